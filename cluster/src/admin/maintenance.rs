//! `/api/v1/maintenance`: maintenance mode, for upgrades and disk work.
//! While it is on, S3 writes (PUT, POST, DELETE) answer 503
//! ServiceUnavailable with `Retry-After` and reads are served. The state is
//! a catalog setting, so it survives a restart, and it reaches every shard
//! in the published snapshot before the call answers. System admins only.
//!
//! `GET` answers `{"enabled": bool}`; `PUT` takes the same body.

use serde_json::{json, Value};

use super::{json_body, AdminError, AdminRequest, AdminResponse, AdminResult, Caller};
use crate::control::{ControlPlane, SETTING_MAINTENANCE};

impl ControlPlane {
    fn admin_maintenance_allowed(&self, caller: &Caller, action: &str) -> Result<(), AdminError> {
        match self.admin_allowed(caller, action, None) {
            true => Ok(()),
            false => Err(AdminError::denied()),
        }
    }

    pub(super) fn admin_get_maintenance(&self, caller: &Caller) -> AdminResult {
        self.admin_maintenance_allowed(caller, "admin:GetMaintenance")?;
        Ok(AdminResponse::json(
            200,
            &json!({"enabled": self.snapshot.maintenance}),
        ))
    }

    pub(super) async fn admin_put_maintenance(
        &mut self,
        request: &AdminRequest,
        caller: &Caller,
    ) -> AdminResult {
        self.admin_maintenance_allowed(caller, "admin:PutMaintenance")?;
        let body = json_body(request)?;
        let enabled = match body.get("enabled") {
            Some(Value::Bool(enabled)) => *enabled,
            _ => {
                return Err(AdminError::bad_request(
                    "The body must be {\"enabled\": true} or {\"enabled\": false}.",
                ))
            }
        };
        match enabled {
            true => self.catalog.set_setting(SETTING_MAINTENANCE, "on")?,
            false => self.catalog.delete_setting(SETTING_MAINTENANCE)?,
        }
        self.admin_publish().await?;
        if enabled {
            tracing::warn!("maintenance mode on: S3 writes answer 503 until it is turned off");
        } else {
            tracing::info!("maintenance mode off: S3 writes accepted");
        }
        let default_account = self.default_account.clone();
        self.admin_audit_entry(
            request,
            &default_account,
            &caller.display,
            "admin:PutMaintenance",
            "maintenance",
            "success",
            &body.to_string(),
        );
        Ok(AdminResponse::json(200, &json!({"enabled": enabled})))
    }
}
