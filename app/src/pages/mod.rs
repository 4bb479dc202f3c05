//! Pages of the site, one module each.

pub mod home;
