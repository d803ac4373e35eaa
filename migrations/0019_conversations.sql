-- Conversations: WorkDrive group chats and rooms (E51–E54) and their messages (E55, E56), in the
-- `content` projection (DESIGN §11). Who may see a conversation is in rm_content.audience
-- (item_id = conversations.id): the org unless private, and its participants.
create table rm_content.conversations (
    id           uuid primary key,
    org_id       uuid        not null,
    group_type   text        not null,          -- 'CHAT_GROUP' | 'ROOM'
    title        text,
    description  text,
    is_private   boolean     not null,
    by_request   boolean     not null,
    file_id      uuid,
    category     text,
    created_by   uuid        not null,
    created_at   timestamptz not null,
    updated_by   uuid,
    updated_at   timestamptz
);
-- E51: one org's group chats, newest first, ties broken by id.
create index conversations_page_idx on rm_content.conversations (org_id, created_at desc, id desc);

-- `joined_*`: the log position of the event that made the user a participant (their latest
-- joining); a live stream pushes a participant only what was posted after it.
create table rm_content.conversation_participants (
    conversation_id uuid    not null,
    user_id         uuid    not null,
    is_admin        boolean not null,
    joined_tx       bigint  not null,
    joined_gid      bigint  not null,
    primary key (conversation_id, user_id)
);
create index conversation_participants_user_idx on rm_content.conversation_participants (user_id, conversation_id);

create table rm_content.messages (
    id               uuid primary key,
    conversation_id  uuid        not null,
    org_id           uuid        not null,
    sender           uuid        not null,
    kind             text        not null,      -- 'text' | 'event'
    message          text        not null,
    file_ids         uuid[]      not null,
    mentions         uuid[]      not null,
    reply_of         uuid,
    event_id         uuid,
    replies_count    integer     not null default 0,
    created_at       timestamptz not null
);
-- `GET /api/{conversationId}/messages`: newest first, ties broken by id (the cursor).
create index messages_page_idx on rm_content.messages (conversation_id, created_at desc, id desc);

-- The command side decides on a conversation from its non-message events only (participants and
-- admins), however many messages the stream holds: this partial index finds them without
-- visiting a single message row.
create index events_conversation_state_idx on events (stream_id, version)
    where stream_type = 'conversation' and event_type <> 'MessagePosted';
