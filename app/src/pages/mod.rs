//! Pages of the site, one module each.

pub mod home;
pub mod login;
pub mod monitoring;
