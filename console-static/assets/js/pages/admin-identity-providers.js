// The identity providers of one tenant (admin API, system admins and the tenant's own admins):
// LDAP / Active Directory directories whose users sign in with `<tenant>/<login>` and their
// directory password, and OpenID Connect providers whose users sign in with single sign-on.
// List, create (the form switches between the LDAP and the OIDC fields), edit (PATCH with only
// what changed; an empty secret field keeps the stored secret, which the server never returns)
// and delete. Each provider maps directory groups (or, for OIDC, e-mail domains) to the
// tenant's roles.

import { get, post, patch, del, seg } from "../api.js";
import { h, mount, notify, explain, confirmDialog, field, formatTime } from "../ui.js";
import { formDialog, panel, note, InputError, badge, checkbox, labelled, stacked } from "./admin-common.js";

const NAME = /^[A-Za-z0-9._-]{1,64}$/;
const MAPPED_ROLES = ["tenant-admin", "user", "read-only"];
const MAPPINGS_MAX = 100;
const DEFAULTS = {
  user_filter: "(uid={username})",
  group_filter: "(member={user_dn})",
  scopes: "openid profile email groups",
  groups_claim: "groups",
  // The server's default when the field is absent (docs/federation.md).
  nested_groups: true,
};

const listPath = (tenant) => `/tenants/${seg(tenant)}/identity-providers`;
const itemPath = (tenant, id) => `${listPath(tenant)}/${seg(id)}`;

/** The redirect URI an OIDC provider must allow for this console. */
export const redirectUri = () => `${location.origin}/api/v1/auth/oidc/callback`;

/** The "Identity providers" panel of `tenant`. When the server cannot list them, a quiet note. */
export async function identityProvidersPanel(ctx, tenant) {
  const body = h("div", { testid: "provider-list" });
  const view = { ctx, tenant, body, providers: [] };
  const create = h("button", { type: "button", class: "primary", testid: "provider-create",
    onclick: () => providerDialog(view, null) }, "New identity provider");
  view.reload = async () => {
    view.providers = (await get(listPath(tenant))).identity_providers || [];
    renderTable(view);
  };
  let available = true;
  try {
    await view.reload();
  } catch (error) {
    available = false;
    // The tenant was just read: a 404 (or 405) here is a server without identity providers.
    mount(body, note(error.status === 404 || error.status === 405
      ? "This server does not offer identity providers."
      : `The identity providers could not be read: ${explain(error)}`, "provider-unavailable"));
  }
  return panel("Identity providers", "provider-panel",
    h("p", { class: "hint" }, "Users of an LDAP or Active Directory provider sign in as ",
      h("code", {}, `${tenant}/<login>`), " with their directory password; users of an OpenID Connect " +
      "provider with the sign-in page's single sign-on. Their role comes from the group mappings at each sign-in."),
    h("p", { class: "hint" }, "Redirect URI to allow at OpenID Connect providers: ",
      h("code", { class: "secret", testid: "provider-redirect-uri" }, redirectUri())),
    available ? h("div", { class: "toolbar" }, h("span", { class: "spacer" }), create) : null,
    body);
}

function renderTable(view) {
  if (!view.providers.length) {
    mount(view.body, note("No identity provider yet: only local users sign in.", "provider-empty"));
    return;
  }
  const rows = view.providers.map((provider) => h("tr", { testid: `provider-row-${provider.name}`, "data-id": provider.id },
    h("td", {}, h("strong", {}, provider.name)),
    h("td", {}, badge(provider.type === "oidc" ? "OIDC" : "LDAP", "ok")),
    h("td", { class: "name" }, provider.type === "oidc" ? provider.issuer : provider.url,
      provider.type === "ldap" && provider.start_tls ? h("span", { class: "muted" }, " (StartTLS)") : null),
    h("td", {}, secretBadge(provider)),
    h("td", {}, mappingSummary(provider.mappings)),
    h("td", { class: "hide-narrow nowrap" }, formatTime(provider.created_at)),
    h("td", {}, h("div", { class: "row-actions" },
      h("button", { type: "button", testid: `provider-edit-${provider.name}`, onclick: () => providerDialog(view, provider) },
        "Edit"),
      h("button", { type: "button", class: "danger", testid: `provider-delete-${provider.name}`,
        onclick: () => deleteProvider(view, provider) }, "Delete")))));
  mount(view.body, h("div", { class: "table-wrap" }, h("table", { testid: "provider-table" },
    h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Type"), h("th", {}, "Server"),
      h("th", {}, "Secret"), h("th", {}, "Group mappings"), h("th", { class: "hide-narrow" }, "Created"),
      h("th", {}, "Actions"))),
    h("tbody", {}, rows))));
  stacked(view.body.querySelector("table"));
}

function secretBadge(provider) {
  const set = provider.type === "oidc" ? provider.client_secret_set : provider.bind_password_set;
  const what = provider.type === "oidc" ? "client secret" : "bind password";
  return set ? badge(`${what} set`, "ok") : badge(`no ${what}`);
}

function mappingSummary(mappings = []) {
  if (!mappings.length) return h("span", { class: "muted" }, "none: nobody may sign in");
  return h("ul", { class: "provider-mapping-summary" }, mappings.map((mapping) => h("li", {},
    mapping.email_domain ? `@${mapping.email_domain}` : mapping.group, " → ", h("strong", {}, mapping.role))));
}

async function deleteProvider(view, provider) {
  const ok = await confirmDialog(`Delete ${provider.name}?`,
    `Nobody can sign in through ${provider.name} any more. Its settings and stored secret are deleted.`);
  if (!ok) return;
  try {
    await del(itemPath(view.tenant, provider.id));
    notify(`Identity provider ${provider.name} deleted.`, "ok");
  } catch (error) {
    notify(`${provider.name} was not deleted: ${explain(error)}`, "error");
  }
  await view.reload().catch((error) => notify(explain(error), "error"));
}

/* The create and edit form. */

function text(testid, value = "", attributes = {}) {
  const input = h("input", { testid, autocomplete: "off", spellcheck: "false", ...attributes });
  input.value = value ?? "";
  return input;
}

function secretInput(testid) {
  return h("input", { type: "password", testid, autocomplete: "new-password" });
}

/** `provider` null: a new one. */
function providerDialog(view, provider) {
  const editing = Boolean(provider);
  const p = provider || {};
  const type = h("select", { testid: "provider-type", disabled: editing },
    h("option", { value: "ldap", selected: p.type !== "oidc" }, "LDAP / Active Directory"),
    h("option", { value: "oidc", selected: p.type === "oidc" }, "OpenID Connect (single sign-on)"));
  const name = text("provider-name", p.name, { maxlength: 64, required: true });

  // LDAP.
  const url = text("provider-url", p.url, { placeholder: "ldaps://ldap.example.com:636", inputmode: "url" });
  const startTls = h("input", { type: "checkbox", testid: "provider-start-tls", checked: Boolean(p.start_tls) });
  const bindDn = text("provider-bind-dn", p.bind_dn, { placeholder: "cn=maxiofs,ou=services,dc=example,dc=com" });
  const bindPassword = secretInput("provider-bind-password");
  const userBase = text("provider-user-base-dn", p.user_base_dn, { placeholder: "ou=people,dc=example,dc=com" });
  const userFilter = text("provider-user-filter", editing ? p.user_filter : DEFAULTS.user_filter);
  const groupBase = text("provider-group-base-dn", p.group_base_dn, { placeholder: "ou=groups,dc=example,dc=com" });
  const groupFilter = text("provider-group-filter", editing ? p.group_filter : DEFAULTS.group_filter);
  const nested = h("input", { type: "checkbox", testid: "provider-nested-groups",
    checked: editing ? Boolean(p.nested_groups) : DEFAULTS.nested_groups });
  const ldapFields = h("fieldset", { class: "provider-fields", testid: "provider-ldap-fields" },
    h("legend", {}, "Directory"),
    field("Server URL", url, "ldap://host:389 or ldaps://host:636."),
    checkbox("StartTLS (upgrade an ldap:// connection to TLS)", startTls),
    h("div", { class: "form-grid wide-cells" },
      field("Bind DN", bindDn, "The service account that searches the directory."),
      field("Bind password", bindPassword, secretHint(editing, p.bind_password_set))),
    editing ? secretState("provider-bind-password-set", p.bind_password_set) : null,
    h("div", { class: "form-grid wide-cells" },
      field("User base DN", userBase),
      field("User filter", userFilter, "Must contain {username}; e.g. (uid={username}), or " +
        "(sAMAccountName={username}) for Active Directory."),
      field("Group base DN", groupBase),
      field("Group filter", groupFilter, "Must contain {user_dn}; e.g. (member={user_dn}).")),
    checkbox("Nested groups (a member of a group inside a mapped group counts)", nested));

  // OIDC.
  const issuer = text("provider-issuer", p.issuer, { placeholder: "https://login.example.com/realms/acme", inputmode: "url" });
  const clientId = text("provider-client-id", p.client_id);
  const clientSecret = secretInput("provider-client-secret");
  const scopes = text("provider-scopes", editing ? scopeText(p.scopes) : DEFAULTS.scopes);
  const groupsClaim = text("provider-groups-claim", editing ? p.groups_claim : DEFAULTS.groups_claim);
  const oidcFields = h("fieldset", { class: "provider-fields", testid: "provider-oidc-fields" },
    h("legend", {}, "OpenID Connect"),
    field("Issuer URL", issuer, "The provider's issuer; its /.well-known/openid-configuration is read from there."),
    h("div", { class: "form-grid wide-cells" },
      field("Client ID", clientId),
      field("Client secret", clientSecret, secretHint(editing, p.client_secret_set))),
    editing ? secretState("provider-client-secret-set", p.client_secret_set) : null,
    h("div", { class: "form-grid wide-cells" },
      field("Scopes", scopes, "Separated by spaces; openid is needed."),
      field("Groups claim", groupsClaim, "The ID token claim that lists the user's groups.")),
    h("p", { class: "hint" }, "Allow this redirect URI at the provider: ",
      h("code", { class: "secret", testid: "provider-dialog-redirect-uri" }, redirectUri())));

  // Both.
  const caPem = h("textarea", { testid: "provider-ca-pem", rows: 4, spellcheck: "false",
    placeholder: "-----BEGIN CERTIFICATE-----" });
  caPem.value = p.ca_pem || "";
  const timeout = text("provider-timeout-ms", p.timeout_ms ?? "", { type: "number", min: 1, step: 1, placeholder: "5000",
    inputmode: "numeric" });
  const mappings = mappingsEditor(p.mappings || [], () => type.value);

  const showType = () => {
    const oidc = type.value === "oidc";
    ldapFields.hidden = oidc;
    oidcFields.hidden = !oidc;
    mappings.setType(type.value);
  };
  type.addEventListener("change", showType);
  showType();

  formDialog({
    title: editing ? `Identity provider ${p.name}` : `New identity provider in ${view.tenant}`,
    testid: "provider-dialog", wide: true,
    submitLabel: editing ? "Save" : "Create provider", submitTestid: "provider-submit",
    fields: [
      h("div", { class: "form-grid wide-cells" },
        field("Type", type, editing ? "The type cannot change: delete and create again." : null),
        field("Name", name, "1 to 64 letters, digits and . _ -; OIDC users see \"Sign in with <name>\".")),
      ldapFields, oidcFields,
      h("fieldset", { class: "provider-fields", testid: "provider-common-fields" }, h("legend", {}, "Connection"),
        field("CA certificate (PEM, optional)", caPem, "The CA that signed the provider's certificate, when the " +
          "system's trusted CAs do not include it."),
        field("Timeout (ms, optional)", timeout, "How long a sign-in waits for the provider; 5000 when empty.")),
      h("fieldset", { class: "provider-fields", testid: "provider-mappings-fields" }, h("legend", {}, "Group → role mappings"),
        h("p", { class: "hint" }, "At each sign-in the user gets the most privileged role of its mapped groups " +
          "(tenant-admin, then user, then read-only). A user in no mapped group is refused."),
        mappings.node),
    ],
    onSubmit: async () => {
      const isOidc = type.value === "oidc";
      const wanted = {
        name: name.value.trim(),
        mappings: mappings.value(),
        ca_pem: caPem.value.trim() ? caPem.value.trim() + "\n" : null,
        timeout_ms: timeoutValue(timeout.value),
      };
      if (!NAME.test(wanted.name)) throw new InputError("The name is 1 to 64 letters, digits, dots, underscores and hyphens.");
      if (isOidc) {
        Object.assign(wanted, {
          issuer: issuer.value.trim(), client_id: clientId.value.trim(),
          scopes: scopes.value.trim().split(/\s+/).filter(Boolean), groups_claim: groupsClaim.value.trim(),
        });
        if (!/^https?:\/\/[^\s/]+/i.test(wanted.issuer)) throw new InputError("The issuer is an http:// or https:// URL.");
        if (!wanted.client_id) throw new InputError("Give the client ID the provider issued.");
        if (!wanted.scopes.includes("openid")) throw new InputError("The scopes must include openid.");
        if (clientSecret.value) wanted.client_secret = clientSecret.value;
      } else {
        Object.assign(wanted, {
          url: url.value.trim(), start_tls: startTls.checked, bind_dn: bindDn.value.trim(),
          user_base_dn: userBase.value.trim(), user_filter: userFilter.value.trim(),
          group_base_dn: groupBase.value.trim(), group_filter: groupFilter.value.trim(),
          nested_groups: nested.checked,
        });
        if (!/^ldaps?:\/\/[^\s/]+/i.test(wanted.url)) throw new InputError("The server URL is ldap://host:port or ldaps://host:port.");
        if (!wanted.user_filter.includes("{username}")) throw new InputError("The user filter must contain {username}.");
        if (wanted.group_filter && !wanted.group_filter.includes("{user_dn}")) {
          throw new InputError("The group filter must contain {user_dn}.");
        }
        if (bindPassword.value) wanted.bind_password = bindPassword.value;
      }
      if (editing) {
        const change = changes(p, wanted);
        if (!Object.keys(change).length) {
          notify("Nothing changed.", "info");
          return;
        }
        await patch(itemPath(view.tenant, p.id), change);
        notify(`Identity provider ${wanted.name} saved.`, "ok");
      } else {
        const body = { ...wanted, type: type.value };
        // Optional fields left empty are not sent: the server's defaults apply.
        if (body.ca_pem === null) delete body.ca_pem;
        if (body.timeout_ms === null) delete body.timeout_ms;
        await post(listPath(view.tenant), body);
        notify(`Identity provider ${wanted.name} created.`, "ok");
      }
      await view.reload();
    },
  });
}

function secretHint(editing, set) {
  if (!editing) return "Stored sealed with the server's master key; never shown again.";
  return set ? "Leave empty to keep the stored one; type a new one to replace it." : "None is stored yet.";
}

function secretState(testid, set) {
  return h("p", { class: "hint", testid }, "Stored secret: ", set ? badge("set", "ok") : badge("not set"));
}

function scopeText(scopes) {
  if (Array.isArray(scopes)) return scopes.join(" ");
  return scopes || "";
}

function timeoutValue(text) {
  const value = String(text ?? "").trim();
  if (!value) return null;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InputError("The timeout is a whole number of milliseconds.");
  return Number(value);
}

/** The fields of `wanted` that differ from the stored `provider` (secrets: only when typed). */
function changes(provider, wanted) {
  const change = {};
  for (const [key, value] of Object.entries(wanted)) {
    const before = key === "scopes" ? scopeText(provider.scopes).split(/\s+/).filter(Boolean) : provider[key];
    if (key === "bind_password" || key === "client_secret") {
      change[key] = value;
    } else if (key === "ca_pem") {
      if ((value || "").trim() !== (before || "").trim()) change[key] = value;
    } else if (key === "timeout_ms") {
      if (value !== null && value !== before) change[key] = value;
    } else if (JSON.stringify(value) !== JSON.stringify(before ?? (typeof value === "boolean" ? false : ""))) {
      change[key] = value;
    }
  }
  return change;
}

/**
 * Rows of a group (or, for OIDC, an e-mail domain) and a role. `value()` gives the contract's
 * list: `{"group", "role"}` or `{"email_domain", "role"}`.
 */
function mappingsEditor(initial, typeOf) {
  const rows = h("div", { class: "provider-mappings", testid: "provider-mappings" });
  const add = h("button", { type: "button", testid: "provider-mapping-add" }, "Add mapping");
  const empty = note("No mapping: nobody can sign in through this provider yet.", "provider-mappings-empty");
  let current = typeOf();

  function refresh() {
    const count = rows.children.length;
    empty.hidden = count > 0;
    add.disabled = count >= MAPPINGS_MAX;
    for (const row of rows.children) row.refresh();
  }

  function addRow(mapping = {}) {
    const kind = h("select", { testid: "provider-mapping-kind" },
      h("option", { value: "group", selected: !mapping.email_domain }, "group"),
      h("option", { value: "email_domain", selected: Boolean(mapping.email_domain) }, "e-mail domain"));
    const value = text("provider-mapping-value", mapping.email_domain || mapping.group || "");
    const role = h("select", { testid: "provider-mapping-role" }, MAPPED_ROLES.map((r) =>
      h("option", { value: r, selected: r === (mapping.role || "user") }, r)));
    const remove = h("button", { type: "button", class: "danger", testid: "provider-mapping-remove",
      "aria-label": "Remove this mapping", onclick: () => {
        row.remove();
        refresh();
      } }, "Remove");
    const kindCell = h("div", { class: "provider-mapping-kind" }, labelled("Mapping kind", kind));
    const row = h("div", { class: "provider-mapping", testid: "provider-mapping-row" },
      kindCell, h("div", { class: "provider-mapping-value" }, labelled("Group or domain", value)),
      h("div", {}, labelled("Role", role)), remove);
    row.refresh = () => {
      const oidc = current === "oidc";
      kindCell.hidden = !oidc;
      if (!oidc) kind.value = "group";
      value.placeholder = kind.value === "email_domain" ? "example.com"
        : oidc ? "claim value, e.g. storage-admins" : "cn=storage-admins,ou=groups,dc=example,dc=com";
    };
    kind.addEventListener("change", row.refresh);
    row.read = () => {
      const text = value.value.trim();
      if (!text) return null;
      if (current === "oidc" && kind.value === "email_domain") {
        return { email_domain: text.replace(/^@/, "").toLowerCase(), role: role.value };
      }
      return { group: text, role: role.value };
    };
    rows.append(row);
    refresh();
    return row;
  }

  add.addEventListener("click", () => {
    const row = addRow();
    row.querySelector("input")?.focus();
  });
  for (const mapping of initial) addRow(mapping);
  if (!initial.length) addRow();
  return {
    node: h("div", {}, rows, empty, add),
    setType(type) {
      current = type;
      refresh();
    },
    value() {
      return [...rows.children].map((row) => row.read()).filter(Boolean);
    },
  };
}
