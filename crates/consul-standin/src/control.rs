//! Test controls that no real Consul has: failing a node's `serfHealth` (a host dying),
//! making an agent unreachable, and reading the history of check runs. Both the `/_standin/`
//! HTTP endpoints and the in-process [`crate::Standin`] API call these.

use crate::agent::{self, CheckRun};
use crate::state::{Datacenter, LostReply, PauseMode};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("unknown agent {0:?}")]
    UnknownAgent(String),
    #[error("unknown check {check:?} on agent {agent:?}")]
    UnknownCheck { agent: String, check: String },
}

fn agent_index(dc: &Datacenter, name: &str) -> Result<usize, ControlError> {
    dc.agent_index(name)
        .ok_or_else(|| ControlError::UnknownAgent(name.to_string()))
}

/// Sets the node's `serfHealth` to passing or critical.
pub fn set_serf_health(dc: &Datacenter, node: &str, passing: bool) -> Result<(), ControlError> {
    let i = agent_index(dc, node)?;
    dc.write(|st, idx| agent::set_serf(dc, st, i, passing, idx));
    Ok(())
}

/// Arms the agent to lose the reply to its next write, after applying it.
pub fn lose_next_reply(dc: &Datacenter, name: &str, mode: LostReply) -> Result<(), ControlError> {
    let i = agent_index(dc, name)?;
    *dc.agents[i].lose_reply.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(mode);
    Ok(())
}

/// Pauses (`Hang` or `Refuse`) or resumes (`Running`) an agent's HTTP listener.
pub fn set_pause(dc: &Datacenter, name: &str, mode: PauseMode) -> Result<(), ControlError> {
    let i = agent_index(dc, name)?;
    dc.agents[i].pause.send_replace(mode);
    Ok(())
}

/// Every recorded run of a check, oldest first.
pub fn check_history(
    dc: &Datacenter,
    node: &str,
    check_id: &str,
) -> Result<Vec<CheckRun>, ControlError> {
    let i = agent_index(dc, node)?;
    dc.read(|st| {
        st.locals[i]
            .checks
            .get(check_id)
            .map(|c| c.history.iter().cloned().collect())
    })
    .ok_or_else(|| ControlError::UnknownCheck {
        agent: node.to_string(),
        check: check_id.to_string(),
    })
}

/// Runs every agent's anti-entropy sync now.
pub fn anti_entropy_now(dc: &Datacenter) {
    for i in 0..dc.agents.len() {
        dc.write(|st, idx| agent::anti_entropy::full_sync(dc, st, i, idx));
    }
}
