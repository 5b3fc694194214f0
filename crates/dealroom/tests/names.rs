//! The rule: every type a caller passes to or receives from the facade's
//! public methods is named at the facade's root (`dealroom::Name`), so that a
//! program depending on `dealroom` alone can write it, and rustdoc shows it on
//! the facade's pages. This file does not compile if one is missing, or if a
//! method's signature changes without this list.

#![allow(clippy::type_complexity)]

use dealroom::{
    AccountService, Actor, AdminUserInput, AuthService, ChangePasswordInput, ChatService,
    ChatSession, ChatSessionId, Checked, ClientInfo, CompleteInput, Completed, ConnectError,
    Dealroom, DeltaInput, DomainError, ExchangeRates, ExchangeRatesInput, ExchangeRatesQuery,
    FieldError, LoginInput, LoginSession, LoginSessionId, MarketService, Media, MediaId,
    MediaService, Message, MessageId, MessageKind, MessageListQuery, MessageRole,
    MessageSearchQuery, MessageStatus, NewSessionInput, Offer, OfferList, OffersQuery, Options,
    Page, PgStore, PoolSettings, PostMessageInput, Posted, Product, ProductInput,
    ProductPatchInput, ProfileInput, RatesImported, RefreshInput, RegisterInput,
    RenameSessionInput, Role, SearchHit, SearchPage, Secret, Seller, SellerId, SellerInput,
    SellerListQuery, SellerPatchInput, Services, SessionListQuery, SignedIn, Timestamp, Tokens,
    User, UserId, UserListQuery, Vendor, VendorId, VendorInput, VendorPatchInput, Via,
};
use std::time::Duration;

type R<T> = Result<T, DomainError>;

#[test]
fn every_type_of_the_facades_methods_is_named_at_its_root() {
    // The facade itself.
    let _: fn(&str) -> Result<Dealroom, ConnectError> = Dealroom::connect;
    let _: fn(&str, Options) -> Result<Dealroom, ConnectError> = Dealroom::connect_with;
    let _: fn(PgStore, &Options) -> R<Dealroom> = Dealroom::from_store;
    let _: fn(Services) -> Dealroom = Dealroom::from_services;
    let _: fn(PgStore, &Options) -> R<Services> = Services::from_store;
    let _: fn(&str) -> Result<Vec<String>, ConnectError> = Dealroom::migrate;
    let _: fn(&Dealroom, UserId, &'static str) -> R<Actor> = Dealroom::act_as;
    let _: fn(&Dealroom, &str, &'static str) -> R<Actor> = Dealroom::act_as_email;
    let _: fn(&Dealroom, &Actor) -> R<Actor> = Dealroom::current;
    let _: fn(Dealroom, Duration) -> bool = Dealroom::close;
    let _: fn() -> Options = Options::for_tests;
    let _: fn(&Options) -> (&PoolSettings, &Secret) = |o| (&o.pool, &o.jwt_secret);

    // auth
    type A = Checked<AuthService>;
    let _: fn(&A, RegisterInput, ClientInfo) -> R<SignedIn> = A::register;
    let _: fn(&A, LoginInput, ClientInfo) -> R<SignedIn> = A::login;
    let _: fn(&A, RefreshInput) -> R<Tokens> = A::refresh;
    let _: fn(&A, &str) -> R<Actor> = A::authenticate;
    let _: fn(&A, RegisterInput) -> R<User> = A::create_admin;
    let _: fn(&A, &Actor) -> R<()> = A::logout;
    let _: fn(&A, &Actor) -> R<u64> = A::logout_all;
    let _: fn(&A, &Actor) -> R<Vec<LoginSession>> = A::login_sessions;
    let _: fn(&A, &Actor, LoginSessionId) -> R<()> = A::revoke_login_session;
    let _: fn(&A, &Actor, ChangePasswordInput) -> R<()> = A::change_password;

    // accounts
    type U = Checked<AccountService>;
    let _: fn(&U, UserId, &'static str) -> R<Actor> = U::act_as;
    let _: fn(&U, &Actor) -> R<User> = U::me;
    let _: fn(&U, &Actor, ProfileInput) -> R<User> = U::update_me;
    let _: fn(&U, &Actor, UserListQuery) -> R<Page<User>> = U::list_users;
    let _: fn(&U, &Actor, UserId) -> R<User> = U::user;
    let _: fn(&U, &Actor, UserId, AdminUserInput) -> R<User> = U::update_user;
    let _: fn(&U, &Actor, UserId) -> R<()> = U::delete_user;
    let _: fn(&U, &Actor, UserId) -> R<u64> = U::end_login_sessions;

    // chat
    type C = Checked<ChatService>;
    let _: fn(&C, &Actor, NewSessionInput) -> R<ChatSession> = C::create_session;
    let _: fn(&C, &Actor, SessionListQuery) -> R<Page<ChatSession>> = C::list_sessions;
    let _: fn(&C, &Actor, ChatSessionId) -> R<ChatSession> = C::session;
    let _: fn(&C, &Actor, ChatSessionId, RenameSessionInput) -> R<ChatSession> = C::rename_session;
    let _: fn(&C, &Actor, ChatSessionId) -> R<()> = C::delete_session;
    let _: fn(&C, &Actor, ChatSessionId, PostMessageInput) -> R<Posted> = C::post_message;
    let _: fn(&C, &Actor, ChatSessionId, MessageListQuery) -> R<Page<Message>> = C::messages;
    let _: fn(&C, &Actor, MessageId) -> R<Message> = C::message;
    let _: fn(&C, &Actor, MessageId) -> R<()> = C::delete_message;
    let _: fn(&C, &Actor, MessageSearchQuery) -> R<SearchPage> = C::search;
    let _: fn(&C, &Actor, MessageId, DeltaInput) -> R<Message> = C::append_delta;
    let _: fn(&C, &Actor, MessageId, CompleteInput) -> R<Completed> = C::complete_message;
    let _: fn(&C, Duration) -> R<Vec<Message>> = C::expire_idle_streams;
    let _: fn(&Completed) -> &Message = Completed::message;
    let _: fn(&SearchPage) -> &[SearchHit] = |p| &p.items;

    // market
    type M = Checked<MarketService>;
    let _: fn(&M, &Actor, ChatSessionId, VendorInput) -> R<Vendor> = M::create_vendor;
    let _: fn(&M, &Actor, ChatSessionId) -> R<Vendor> = M::vendor_of_session;
    let _: fn(&M, &Actor, VendorId) -> R<Vendor> = M::vendor;
    let _: fn(&M, &Actor, VendorId, VendorPatchInput) -> R<Vendor> = M::update_vendor;
    let _: fn(&M, &Actor, VendorId) -> R<()> = M::delete_vendor;
    let _: fn(&M, &Actor, ChatSessionId, SellerInput) -> R<Seller> = M::add_seller;
    let _: fn(&M, &Actor, ChatSessionId, SellerListQuery) -> R<Vec<Seller>> = M::sellers;
    let _: fn(&M, &Actor, SellerId) -> R<Seller> = M::seller;
    let _: fn(&M, &Actor, SellerId, SellerPatchInput) -> R<Seller> = M::update_seller;
    let _: fn(&M, &Actor, SellerId) -> R<()> = M::delete_seller;
    let _: fn(&M, &Actor, &str, ExchangeRatesInput) -> R<ExchangeRates> = M::put_exchange_rates;
    let _: fn(&M, &Actor, ExchangeRatesQuery) -> R<ExchangeRates> = M::exchange_rates;
    let _: fn(&M, &Actor, ChatSessionId, OffersQuery) -> R<OfferList> = M::offers;
    let _: fn(&M, &[ExchangeRates]) -> R<RatesImported> = M::import_exchange_rates;
    let _: fn(&OfferList) -> &[Offer] = |l| &l.items;

    // media
    type D = Checked<MediaService>;
    let _: fn(&D, &Actor, MediaId) -> R<Media> = D::get;
    let _: fn(&D, MediaId, i64, &str) -> R<Media> = D::get_signed;
    let _: fn(&D) -> R<u64> = D::delete_orphans;

    // What the inputs and outputs hold.
    let _: fn(&SellerInput) -> Option<&ProductInput> = |s| s.product.as_ref();
    let _: fn(&SellerPatchInput) -> Option<&ProductPatchInput> = |s| s.product.as_ref();
    let _: fn(&Seller) -> &Product = |s| &s.product;
    let _: fn(&Message) -> (MessageRole, MessageKind, Option<&Media>, Timestamp) =
        |m| (m.role, m.kind, m.media.as_ref(), m.created_at);
    let _: fn(&Message) -> (MessageStatus, Option<Timestamp>) = |m| (m.status, m.completed_at);
    let _: fn(&Actor) -> (Role, Via) = |a| (a.role(), a.via());
    let _: fn(&DomainError) -> Option<&[FieldError]> = |e| match e {
        DomainError::Validation(fields) => Some(fields),
        _ => None,
    };
}

#[test]
fn every_type_of_the_webhook_methods_is_named_at_its_root() {
    use dealroom::{
        Delivery, DeliveryId, DeliveryListQuery, DeliveryStatus, Dispatcher, Registered, UrlPolicy,
        Webhook, WebhookId, WebhookInput, WebhookPatchInput, WebhookSecret, WebhookService,
    };
    type W = Checked<WebhookService>;
    let _: fn(&W, &Actor, WebhookInput) -> R<Registered> = W::create;
    let _: fn(&W, &Actor) -> R<Vec<Webhook>> = W::list;
    let _: fn(&W, &Actor, WebhookId) -> R<Webhook> = W::get;
    let _: fn(&W, &Actor, WebhookId, WebhookPatchInput) -> R<Webhook> = W::update;
    let _: fn(&W, &Actor, WebhookId) -> R<()> = W::delete;
    let _: fn(&W, &Actor, WebhookId) -> R<Registered> = W::rotate_secret;
    let _: fn(&W, &Actor, WebhookId, DeliveryListQuery) -> R<Page<Delivery>> = W::deliveries;
    let _: fn(&W, &Actor, WebhookId) -> R<Delivery> = W::test;
    let _: fn(&Registered) -> (&Webhook, &WebhookSecret) = |r| (&r.webhook, &r.secret);
    let _: fn(&Delivery) -> (DeliveryId, DeliveryStatus) = |d| (d.id, d.status);
    let _: fn(&Options) -> &UrlPolicy = |o| &o.webhook_policy;
    let _: fn(&Dealroom, dealroom::webhook_dispatch::Settings) -> std::io::Result<Dispatcher> =
        Dealroom::dispatch_webhooks;
}
