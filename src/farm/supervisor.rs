//! The supervisor: spawns every session actor linked to itself, reaps idle and
//! over-age sessions on one timer, and learns of every session's end (clean
//! or panic) through supervision events, where the farm's books are closed.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};

use super::session::{SessionActor, SessionArgs, SessionMsg};
use super::status::{CloseReason, SessionStatus};
use super::{Farm, SessionId};
use crate::env::EpisodeOptions;

pub enum SupervisorMsg {
    Spawn {
        id: SessionId,
        status: Arc<SessionStatus>,
        options: EpisodeOptions,
        reply: RpcReplyPort<Result<ActorRef<SessionMsg>, String>>,
    },
    Reap,
}

pub struct SupervisorState {
    farm: Weak<Farm>,
    /// Live session actors by actor id.
    children: BTreeMap<u64, (SessionId, Arc<SessionStatus>)>,
}

pub struct Supervisor;

/// How often the reaper looks for idle and over-age sessions.
pub fn reap_interval(idle_timeout: Duration) -> Duration {
    (idle_timeout / 4).clamp(Duration::from_millis(100), Duration::from_secs(1))
}

impl Actor for Supervisor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = (Weak<Farm>, Duration);

    async fn pre_start(
        &self,
        myself: ActorRef<SupervisorMsg>,
        (farm, reap_every): (Weak<Farm>, Duration),
    ) -> Result<SupervisorState, ActorProcessingErr> {
        myself.send_interval(reap_every, || SupervisorMsg::Reap);
        Ok(SupervisorState { farm, children: BTreeMap::new() })
    }

    async fn handle(
        &self,
        myself: ActorRef<SupervisorMsg>,
        message: SupervisorMsg,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        let Some(farm) = state.farm.upgrade() else { return Ok(()) };
        match message {
            SupervisorMsg::Spawn { id, status, options, reply } => {
                let args = SessionArgs {
                    status: status.clone(),
                    metrics: farm.metrics.clone(),
                    options,
                    session_id: id.to_string(),
                    activity: farm.activity.clone(),
                };
                let spawned = SessionActor::spawn_linked(None, SessionActor, args, myself.get_cell()).await;
                let result = match spawned {
                    Ok((actor, _join)) => {
                        state.children.insert(actor.get_id().pid(), (id, status));
                        Ok(actor)
                    }
                    Err(e) => Err(e.to_string()),
                };
                let _ = reply.send(result);
            }
            SupervisorMsg::Reap => farm.reap(),
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<SupervisorMsg>,
        event: SupervisionEvent,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        // A session ending never takes the supervisor down.
        let (cell, panicked) = match &event {
            SupervisionEvent::ActorTerminated(cell, _, _) => (cell, false),
            SupervisionEvent::ActorFailed(cell, err) => {
                tracing::error!(error = %err, "session actor panicked");
                (cell, true)
            }
            _ => return Ok(()),
        };
        if let Some((id, status)) = state.children.remove(&cell.get_id().pid())
            && let Some(farm) = state.farm.upgrade()
        {
            if panicked {
                status.mark_ended(CloseReason::Panic);
            }
            farm.session_ended(id, &status);
        }
        Ok(())
    }
}
