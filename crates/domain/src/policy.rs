//! Who may see and change a chat session and its children (messages, vendor,
//! sellers), written once for the chat and market contexts.

use crate::actor::Actor;
use crate::ids::UserId;

/// The owner, agents and admins may read a chat session and everything in it.
pub fn can_read_chat(actor: &Actor, owner: UserId) -> bool {
    actor.user_id == owner || actor.reads_any_chat()
}

/// The owner and admins may change a chat session, its vendor and its sellers.
pub fn can_change_chat(actor: &Actor, owner: UserId) -> bool {
    actor.user_id == owner || actor.is_admin()
}
