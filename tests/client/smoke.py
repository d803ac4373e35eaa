"""Drives a running Roster through a Python client generated from its /openapi.json by
openapi-python-client (the e2e test `roster_api::a_generated_python_client_works` generates it,
then runs this). Usage: smoke.py CLIENT_DIR BASE_URL SUPER_ADMIN_TOKEN

Creates an organization (WorkDrive), a user (WorkDrive) and a group (PortSIP), then lists them,
using only the generated methods and models. Exits non-zero, saying why, on any surprise."""

import sys
import uuid

sys.path.insert(0, sys.argv[1])

from roster_client import AuthenticatedClient  # noqa: E402
from roster_client.api.port_sip import portsip_create_group, portsip_list_groups  # noqa: E402
from roster_client.api.work_drive import workdrive_add_user, workdrive_create_organization, workdrive_list_users  # noqa: E402
from roster_client.models import AddUserBody, AdminBody, AuthBody, AuthBodyMethod, CreateOrganizationBody, GroupBody  # noqa: E402

base_url, super_token = sys.argv[2], sys.argv[3]
tag = uuid.uuid4().hex[:8]


def workdrive(token):
    return AuthenticatedClient(base_url=base_url, token=token, prefix="", auth_header_name="X-API-KEY", raise_on_unexpected_status=True)


def portsip(token):
    return AuthenticatedClient(base_url=base_url, token=token, raise_on_unexpected_status=True)


def expect(response, status):
    if response.status_code != status:
        sys.exit(f"expected {status}, got {response.status_code}: {response.content!r}")
    return response.parsed


org = expect(
    workdrive_create_organization.sync_detailed(
        client=workdrive(super_token),
        body=CreateOrganizationBody(
            name=f"Client {tag}",
            admin=AdminBody(email=f"admin-{tag}@client.example.com", first_name="Ada", last_name="Admin"),
            auth=AuthBody(method=AuthBodyMethod.INTERNAL),  # the document lists the methods
        ),
    ),
    201,
)
admin = org.access_token
user = expect(
    workdrive_add_user.sync_detailed(
        client=workdrive(admin), body=AddUserBody(email=f"user-{tag}@client.example.com", first_name="Grace", last_name="Hopper")
    ),
    201,
)
group = expect(portsip_create_group.sync_detailed(client=portsip(admin), body=GroupBody(name=f"group-{tag}")), 201)

users = expect(workdrive_list_users.sync_detailed(client=workdrive(admin)), 200)
emails = sorted(u.email for u in users.users)
if emails != sorted([f"admin-{tag}@client.example.com", f"user-{tag}@client.example.com"]) or users.meta.total_results != 2:
    sys.exit(f"users: {emails} (total {users.meta.total_results})")
groups = expect(portsip_list_groups.sync_detailed(client=portsip(admin)), 200)
names = [g.name for g in groups.items]
if names != [f"group-{tag}"] or str(groups.items[0].id) != str(group.id):
    sys.exit(f"groups: {names}")
print(f"smoke: org {org.id}, user {user.id}, group {group.id} created and listed through the generated client")
