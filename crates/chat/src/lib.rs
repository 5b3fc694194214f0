//! Chat sessions and messages: [`ChatService`]. (Being built: issue 4.)

use domain::ports::ChatStore;
use std::sync::Arc;

pub struct ChatService {
    #[allow(dead_code)]
    store: Arc<dyn ChatStore>,
}

impl ChatService {
    pub fn new(store: Arc<dyn ChatStore>) -> Self {
        Self { store }
    }
}
