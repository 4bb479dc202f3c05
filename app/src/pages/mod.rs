//! Pages of the site, one module each.

pub mod dashboard;
#[cfg(feature = "hydrate")]
pub mod echarts;
pub mod home;
#[cfg(feature = "hydrate")]
pub mod live;
pub mod login;
pub mod monitoring;
