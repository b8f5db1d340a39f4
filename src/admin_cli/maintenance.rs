//! `maxiofs admin maintenance on|off|status`: maintenance mode through the
//! admin API (`GET|PUT /api/v1/maintenance`). While it is on, S3 writes
//! answer 503 ServiceUnavailable with Retry-After and reads are served.

use clap::Subcommand;
use serde_json::{json, Value};

use super::api::{api_path, ApiClient};
use super::client::Failure;
use super::output::Output;

#[derive(Subcommand, Debug)]
pub enum MaintenanceCommand {
    /// Pause S3 writes (503 with Retry-After); reads keep working.
    On,
    /// Accept S3 writes again.
    Off,
    /// Show whether maintenance mode is on.
    Status,
}

pub fn run(client: &ApiClient, command: MaintenanceCommand) -> Result<Output, Failure> {
    let path = api_path(&["maintenance"]);
    let answer = match command {
        MaintenanceCommand::On => client.put(&path, &json!({"enabled": true}))?,
        MaintenanceCommand::Off => client.put(&path, &json!({"enabled": false}))?,
        MaintenanceCommand::Status => client.get(&path)?,
    };
    Ok(shown(answer))
}

fn shown(answer: Value) -> Output {
    let text = match answer.get("enabled").and_then(Value::as_bool) {
        Some(true) => "maintenance mode: on (S3 writes answer 503, reads are served)\n",
        _ => "maintenance mode: off\n",
    };
    Output::Shown {
        json: answer,
        text: text.to_owned(),
    }
}
