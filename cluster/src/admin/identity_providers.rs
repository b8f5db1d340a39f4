//! `/api/v1/tenants/{tenant}/identity-providers[/{id}]`: a tenant's LDAP /
//! Active Directory and OpenID Connect providers, managed by system admins
//! and the tenant's admins; and the public `GET /api/v1/auth/providers`,
//! which tells the login page which single sign-on buttons a tenant has.
//! Secrets are sealed with the master key and never answered.

use serde_json::{json, Value};

use super::{json_body, rfc3339, AdminError, AdminRequest, AdminResponse, AdminResult, Caller};
use crate::control::tenants::account_by_name;
use crate::control::ControlPlane;
use crate::directory::{AccountRecord, RecordChange};
use crate::federation::providers::{self, IdentityProviderRecord, PROVIDERS_PER_TENANT_MAX};

fn provider_json(account: &AccountRecord, record: &IdentityProviderRecord) -> Value {
    let mut shown = providers::view(record);
    shown["tenant"] = json!(account.name);
    shown["created_at"] = json!(rfc3339(record.created_ms));
    shown
}

impl ControlPlane {
    fn admin_provider(
        &self,
        account: &AccountRecord,
        id: &str,
    ) -> Result<IdentityProviderRecord, AdminError> {
        self.catalog
            .record::<IdentityProviderRecord>(&account.id, id)?
            .ok_or_else(|| {
                AdminError::not_found(format!(
                    "No identity provider {id} in tenant {}.",
                    account.name
                ))
            })
    }

    /// A tenant's providers, by name.
    pub(crate) fn tenant_providers(
        &self,
        account_id: &str,
    ) -> Result<Vec<IdentityProviderRecord>, AdminError> {
        let mut found = self.catalog.records::<IdentityProviderRecord>(account_id)?;
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }

    pub(super) fn admin_list_providers(&self, caller: &Caller, tenant: &str) -> AdminResult {
        let account = self.admin_tenant(caller, tenant, "admin:ListIdentityProviders")?;
        let shown: Vec<Value> = self
            .tenant_providers(&account.id)?
            .iter()
            .map(|record| provider_json(&account, record))
            .collect();
        Ok(AdminResponse::json(
            200,
            &json!({"identity_providers": shown}),
        ))
    }

    pub(super) fn admin_get_provider(
        &self,
        caller: &Caller,
        tenant: &str,
        id: &str,
    ) -> AdminResult {
        let account = self.admin_tenant(caller, tenant, "admin:GetIdentityProvider")?;
        let record = self.admin_provider(&account, id)?;
        Ok(AdminResponse::json(200, &provider_json(&account, &record)))
    }

    pub(super) fn admin_create_provider(
        &mut self,
        request: &AdminRequest,
        caller: &Caller,
        tenant: &str,
        now_ms: u64,
    ) -> AdminResult {
        let account = self.admin_tenant(caller, tenant, "admin:CreateIdentityProvider")?;
        let body = json_body(request)?;
        let mut record = providers::from_body(
            &body,
            None,
            &self.master,
            account.id == self.default_account,
        )
        .map_err(AdminError::bad_request)?;
        self.admin_check_provider_role(caller, &record)?;
        let existing = self.tenant_providers(&account.id)?;
        if existing.len() >= PROVIDERS_PER_TENANT_MAX {
            return Err(AdminError::new(
                409,
                "LimitExceeded",
                format!("A tenant has at most {PROVIDERS_PER_TENANT_MAX} identity providers."),
            ));
        }
        self.admin_check_provider_unique(&existing, &record)?;
        record.created_ms = now_ms;
        self.catalog
            .write_records(&[RecordChange::put(&account.id, &record)])?;
        self.admin_audit_entry(
            request,
            &account.id,
            &caller.display,
            "admin:CreateIdentityProvider",
            &format!("{tenant}/{}", record.name),
            "success",
            &format!("{} {}", record.type_name(), record.id),
        );
        Ok(AdminResponse::json(201, &provider_json(&account, &record)))
    }

    pub(super) fn admin_update_provider(
        &mut self,
        request: &AdminRequest,
        caller: &Caller,
        tenant: &str,
        id: &str,
    ) -> AdminResult {
        let account = self.admin_tenant(caller, tenant, "admin:UpdateIdentityProvider")?;
        let current = self.admin_provider(&account, id)?;
        let body = json_body(request)?;
        let record = providers::from_body(
            &body,
            Some(&current),
            &self.master,
            account.id == self.default_account,
        )
        .map_err(AdminError::bad_request)?;
        self.admin_check_provider_role(caller, &record)?;
        let others: Vec<IdentityProviderRecord> = self
            .tenant_providers(&account.id)?
            .into_iter()
            .filter(|other| other.id != record.id)
            .collect();
        self.admin_check_provider_unique(&others, &record)?;
        self.catalog
            .write_records(&[RecordChange::put(&account.id, &record)])?;
        self.federated.federation.shared.forget(&record.id);
        self.admin_audit_entry(
            request,
            &account.id,
            &caller.display,
            "admin:UpdateIdentityProvider",
            &format!("{tenant}/{}", record.name),
            "success",
            &record.id,
        );
        Ok(AdminResponse::json(200, &provider_json(&account, &record)))
    }

    pub(super) fn admin_delete_provider(
        &mut self,
        request: &AdminRequest,
        caller: &Caller,
        tenant: &str,
        id: &str,
    ) -> AdminResult {
        let account = self.admin_tenant(caller, tenant, "admin:DeleteIdentityProvider")?;
        let record = self.admin_provider(&account, id)?;
        self.catalog
            .write_records(&[RecordChange::delete::<IdentityProviderRecord>(
                &account.id,
                id,
            )])?;
        self.federated.federation.shared.forget(id);
        self.admin_audit_entry(
            request,
            &account.id,
            &caller.display,
            "admin:DeleteIdentityProvider",
            &format!("{tenant}/{}", record.name),
            "success",
            id,
        );
        Ok(AdminResponse::empty(204))
    }

    /// A mapping to system-admin makes system admins: as for users, only
    /// the root may configure that.
    fn admin_check_provider_role(
        &self,
        caller: &Caller,
        record: &IdentityProviderRecord,
    ) -> Result<(), AdminError> {
        let grants_system = record
            .mappings
            .iter()
            .any(|mapping| mapping.role == "system-admin");
        if grants_system && !caller.is_root() {
            return Err(AdminError::denied());
        }
        Ok(())
    }

    /// Names are unique in a tenant, and one issuer is one provider (a
    /// token's `iss` must say which provider checks it).
    fn admin_check_provider_unique(
        &self,
        others: &[IdentityProviderRecord],
        record: &IdentityProviderRecord,
    ) -> Result<(), AdminError> {
        if others.iter().any(|other| other.name == record.name) {
            return Err(AdminError::new(
                409,
                "AlreadyExists",
                format!("An identity provider named {} exists.", record.name),
            ));
        }
        if record.issuer().is_some() && others.iter().any(|other| other.issuer() == record.issuer())
        {
            return Err(AdminError::new(
                409,
                "AlreadyExists",
                "Another provider of this tenant has the same issuer.",
            ));
        }
        Ok(())
    }

    /// Public: the OpenID Connect providers a tenant offers on the login
    /// page. An unknown tenant has none (the answer says nothing of which
    /// tenants exist).
    pub(super) fn admin_public_providers(&self, request: &AdminRequest) -> AdminResult {
        let tenant = request.query_param("tenant").unwrap_or("");
        let account = if crate::control::tenants::valid_tenant_name(tenant) {
            account_by_name(&self.catalog, tenant)?
        } else {
            None
        };
        let shown: Vec<Value> = match account {
            Some(account) if !account.suspended => self
                .tenant_providers(&account.id)?
                .iter()
                .filter(|record| record.is_oidc())
                .map(|record| {
                    json!({
                        "name": record.name,
                        "type": record.type_name(),
                        "start_url": format!(
                            "/api/v1/auth/oidc/{}/{}/start",
                            account.name, record.name
                        ),
                    })
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(AdminResponse::json(200, &json!({"providers": shown})))
    }
}
