//! Vendors and sellers: [`MarketService`]. (Being built: issue 5.)

use domain::ports::{ChatStore, MarketStore};
use std::sync::Arc;

#[allow(dead_code)]
pub struct MarketService {
    store: Arc<dyn MarketStore>,
    chats: Arc<dyn ChatStore>,
    max_sellers_per_session: i32,
}

impl MarketService {
    pub fn new(
        store: Arc<dyn MarketStore>,
        chats: Arc<dyn ChatStore>,
        max_sellers_per_session: i32,
    ) -> Self {
        Self {
            store,
            chats,
            max_sellers_per_session,
        }
    }
}
