//! The client's address and agent, as recorded on login sessions.

use actix_web::HttpRequest;
use auth::ClientInfo;
use std::net::IpAddr;

/// The client IP: the peer's, or with `trust_proxy` the first address of
/// `X-Forwarded-For` (as Express's `trust proxy` reads it).
pub fn client_ip(req: &HttpRequest, trust_proxy: bool) -> Option<IpAddr> {
    if trust_proxy {
        let forwarded = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok());
        if forwarded.is_some() {
            return forwarded;
        }
    }
    req.peer_addr().map(|a| a.ip())
}

pub fn client_info(req: &HttpRequest, trust_proxy: bool) -> ClientInfo {
    ClientInfo {
        user_agent: req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        ip_address: client_ip(req, trust_proxy).map(|ip| ip.to_string()),
    }
}
