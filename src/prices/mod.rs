//! The price book: reviewable files in `prices/` (one per provider), validated at build time and embedded.
//!
//! - [`units`]: what can be priced, and how usage splits into priced leaves;
//! - [`schema`]: the file format and its rules (`prices/SCHEMA.md`);
//! - [`book`]: the compiled book, model-name resolution, and the choice of a price for one request;
//! - [`calendar`]: dates, instants and time-of-day windows;
//! - [`load`]: books from price files and folders, and override files.

pub mod book;
pub mod calendar;
pub mod load;
pub mod schema;
pub mod units;

pub use book::PriceBook;
