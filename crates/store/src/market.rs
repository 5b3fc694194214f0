//! Vendors and sellers. (Placeholder until issue 5 lands.)

use crate::PgStore;
use domain::ports::*;
use domain::*;

fn todo<T>() -> StoreResult<T> {
    Err(StoreError::Other("market store not built yet".into()))
}

impl MarketStore for PgStore {
    fn create_vendor(
        &self,
        _: VendorId,
        _: ChatSessionId,
        _: &VendorFields,
    ) -> StoreResult<Vendor> {
        todo()
    }
    fn vendor_of_session(&self, _: ChatSessionId) -> StoreResult<Option<Vendor>> {
        todo()
    }
    fn vendor(&self, _: VendorId) -> StoreResult<Option<(Vendor, UserId)>> {
        todo()
    }
    fn update_vendor(&self, _: VendorId, _: &VendorChanges) -> StoreResult<Option<Vendor>> {
        todo()
    }
    fn delete_vendor(&self, _: VendorId) -> StoreResult<bool> {
        todo()
    }
    fn add_seller(
        &self,
        _: SellerId,
        _: ChatSessionId,
        _: &SellerFields,
        _: i32,
    ) -> StoreResult<SellerAdded> {
        todo()
    }
    fn sellers(&self, _: ChatSessionId, _: SellerSort) -> StoreResult<Vec<Seller>> {
        todo()
    }
    fn seller(&self, _: SellerId) -> StoreResult<Option<(Seller, UserId)>> {
        todo()
    }
    fn update_seller(&self, _: SellerId, _: &SellerChanges) -> StoreResult<Option<Seller>> {
        todo()
    }
    fn delete_seller(&self, _: SellerId) -> StoreResult<bool> {
        todo()
    }
}
