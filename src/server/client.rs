//! Who a request comes from, for the per-client session cap: its token when
//! several are configured (one per client), else the client address
//! `X-Forwarded-For` gives when the peer is a trusted proxy, else the peer
//! address. A single shared token says nothing about who is calling.

use std::net::IpAddr;

use axum::extract::Request;
use axum::http::HeaderMap;

use super::auth::Tokens;
use super::listen::Peer;
use crate::config::ServerSettings;
use crate::farm::ClientKey;

/// The client behind a request (None when the peer is unknown, as in-process tests without a socket).
pub(crate) fn identify(
    settings: &ServerSettings,
    tokens: &Tokens,
    token: Option<usize>,
    request: &Request,
) -> Option<ClientKey> {
    if let Some(i) = token.filter(|_| tokens.api.len() > 1) {
        return Some(ClientKey::Token(i));
    }
    let peer = request.extensions().get::<Peer>()?.0.ip();
    Some(ClientKey::Addr(forwarded_for(settings, peer, request.headers()).unwrap_or(peer)))
}

/// The address a trusted proxy reports: the rightmost entry of the last
/// `X-Forwarded-For` that is not itself a trusted proxy (entries to its left
/// were written by the client and prove nothing).
fn forwarded_for(settings: &ServerSettings, peer: IpAddr, headers: &HeaderMap) -> Option<IpAddr> {
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
    fn a_token_keys_the_client_only_when_there_are_several() {
        let settings = ServerSettings::default();
        let peer: std::net::SocketAddr = ([192, 0, 2, 7], 40000).into();
        let request = || {
            let mut r = Request::new(axum::body::Body::empty());
            r.extensions_mut().insert(Peer(peer));
            r
        };
        let one = Tokens { api: vec![b"t".to_vec()], operator: None };
        let two = Tokens { api: vec![b"a".to_vec(), b"b".to_vec()], operator: None };
        assert_eq!(identify(&settings, &one, Some(0), &request()), Some(ClientKey::Addr(peer.ip())));
        assert_eq!(identify(&settings, &two, Some(1), &request()), Some(ClientKey::Token(1)));
        assert_eq!(
            identify(&settings, &Tokens::default(), None, &request()),
            Some(ClientKey::Addr(peer.ip()))
        );
    }

    #[test]
    fn only_trusted_proxies_name_the_client() {
        let proxy: IpAddr = [10, 0, 0, 1].into();
        let settings = ServerSettings { trusted_proxies: vec![proxy], ..ServerSettings::default() };
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "1.2.3.4, 5.6.7.8, 10.0.0.1".parse().unwrap());
        assert_eq!(forwarded_for(&settings, proxy, &headers), Some([5, 6, 7, 8].into()));
        assert_eq!(forwarded_for(&settings, [9, 9, 9, 9].into(), &headers), None);
        assert_eq!(forwarded_for(&settings, proxy, &HeaderMap::new()), None);
    }
}
