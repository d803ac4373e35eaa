pub mod devstack;
