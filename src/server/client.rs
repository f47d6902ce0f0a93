//! Who a request comes from, for the per-client session cap: its token when
//! the request presented one, else the client address `X-Forwarded-For` gives
//! when the peer is a trusted proxy, else the peer address.

use std::net::IpAddr;

use axum::extract::Request;
use axum::http::HeaderMap;

use super::listen::Peer;
use crate::config::Settings;
use crate::farm::ClientKey;

/// The client behind a request (None when the peer is unknown, as in-process tests without a socket).
pub(crate) fn identify(settings: &Settings, token: Option<usize>, request: &Request) -> Option<ClientKey> {
    if let Some(i) = token {
        return Some(ClientKey::Token(i));
    }
    let peer = request.extensions().get::<Peer>()?.0.ip();
    Some(ClientKey::Addr(forwarded_for(settings, peer, request.headers()).unwrap_or(peer)))
}

/// The address a trusted proxy reports: the rightmost entry of the last
/// `X-Forwarded-For` that is not itself a trusted proxy (entries to its left
/// were written by the client and prove nothing).
fn forwarded_for(settings: &Settings, peer: IpAddr, headers: &HeaderMap) -> Option<IpAddr> {
    if !settings.trusted_proxies.contains(&peer) {
        return None;
    }
    let mut hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|h| h.trim().parse().ok())
        .collect();
    while let Some(hop) = hops.pop() {
        if !settings.trusted_proxies.contains(&hop) {
            return Some(hop);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_trusted_proxies_name_the_client() {
        let proxy: IpAddr = [10, 0, 0, 1].into();
        let settings = Settings { trusted_proxies: vec![proxy], ..Settings::default() };
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "1.2.3.4, 5.6.7.8, 10.0.0.1".parse().unwrap());
        assert_eq!(forwarded_for(&settings, proxy, &headers), Some([5, 6, 7, 8].into()));
        assert_eq!(forwarded_for(&settings, [9, 9, 9, 9].into(), &headers), None);
        assert_eq!(forwarded_for(&settings, proxy, &HeaderMap::new()), None);
    }
}
