//! Container images: reading OCI image layouts and layer archives.

pub mod inflate;
pub mod oci;
pub mod sha256;
pub mod tar;
pub mod unpack;
