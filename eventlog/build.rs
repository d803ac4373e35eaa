// `sqlx::migrate!` embeds `migrations/` when this crate compiles; without this line cargo would
// not rebuild it when only a migration is added, and a cached build would run the old set.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
