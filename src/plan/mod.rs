//! The plan: the document `ftpsync plan` writes and `ftpsync apply` executes, what each of its
//! entries makes apply do, its summary, and how it is stored. The planner builds it; nothing
//! here knows how.

pub mod document;
pub mod effective;
pub mod io;
pub mod layout;
pub mod options;
pub mod summary;
pub mod written;

pub use self::document::tool;
pub use self::effective::{child_action, effective_actions};
pub use self::io::{Loaded, load};
pub use self::summary::summarize;
