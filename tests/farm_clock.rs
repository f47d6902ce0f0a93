//! The farm reads tokio's clock: reaping runs on a paused clock, exactly and
//! at once, with no real sleep.

use std::time::Duration;

use mlops_debug_env::config::FarmSettings;
use mlops_debug_env::farm::{Farm, FarmError, Transport};

/// Lets the farm's actors run: yields until the paused clock's timers and the
/// messages they send have been handled.
async fn settle() {
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn an_idle_session_is_reaped_after_its_timeout_and_not_before() {
    let farm = Farm::start(FarmSettings { idle_timeout_secs: 10, ..FarmSettings::default() }).await;
    let entry = farm.open_session(Transport::Http, None, None).await.expect("admitted");
    tokio::time::advance(Duration::from_secs(9)).await;
    settle().await;
    assert!(farm.lookup(entry.id).is_ok(), "alive before its idle timeout");
    tokio::time::advance(Duration::from_secs(2)).await;
    settle().await;
    assert_eq!(farm.lookup(entry.id).err(), Some(FarmError::SessionExpired));
    assert_eq!(farm.live_sessions(), 0);
}

#[tokio::test(start_paused = true)]
async fn an_ended_episode_past_its_lifetime_is_reaped() {
    let settings =
        FarmSettings { idle_timeout_secs: 3600, max_session_lifetime_secs: 5, ..FarmSettings::default() };
    let farm = Farm::start(settings).await;
    let entry = farm.open_session(Transport::Http, None, None).await.expect("admitted");
    tokio::time::advance(Duration::from_secs(4)).await;
    settle().await;
    assert!(farm.lookup(entry.id).is_ok(), "alive before its lifetime");
    tokio::time::advance(Duration::from_secs(2)).await;
    settle().await;
    assert_eq!(farm.lookup(entry.id).err(), Some(FarmError::SessionExpired));
}
