// The users of one tenant with their access keys (admin API): create a user with a role and a
// console password, change its role, reset its password, delete it; create a key (its secret
// shown once, with a copy button), delete one, and where IAM is usable (iamAccess) see when a
// key was last used and disable or enable it.

import { get, post, patch, del, seg } from "../api.js";
import { queryApi, text } from "../s3.js";
import { h, mount, notify, explain, confirmDialog, modal, field, formatTime } from "../ui.js";
import { formDialog, labelled, iamAccess, isRoot, panel, InputError, badge, note, checkPassword, stacked } from "./admin-common.js";

const PAGE_SIZE = 50;
const KEYS_PER_USER_MAX = 2;

const ROLES = [
  { value: "system-admin", label: "system-admin (everything, default tenant only)" },
  { value: "tenant-admin", label: "tenant-admin (users, keys, buckets of the tenant)" },
  { value: "user", label: "user (read-write: S3 in the tenant)" },
  { value: "read-only", label: "read-only (S3 reads, tenant figures)" },
];

/** The roles the caller may give in `tenant`: system-admin only by the root, in the default tenant. */
function rolesGivable(caller, tenant) {
  return ROLES.filter((role) => role.value !== "system-admin" || (tenant === "default" && isRoot(caller)));
}

const usersPath = (tenant) => `/tenants/${seg(tenant)}/users`;
const userPath = (tenant, name) => `${usersPath(tenant)}/${seg(name)}`;
const keysPath = (tenant, name) => `${userPath(tenant, name)}/keys`;

/**
 * The users panel of `tenant`: { node, userNames() }. `onChange` is told when keys or users
 * change (to refresh the tenant's figures).
 */
export async function usersPanel(ctx, tenant, { onChange = () => {} } = {}) {
  const view = { ctx, tenant, caller: ctx.user, iam: iamAccess(ctx.user, tenant), onChange,
    users: [], shown: PAGE_SIZE, filter: "" };
  const body = h("div", { testid: "users-list" });
  const filter = h("input", { type: "search", testid: "user-filter", placeholder: "name contains…" });
  filter.addEventListener("input", () => {
    view.filter = filter.value.trim().toLowerCase();
    view.shown = PAGE_SIZE;
    renderTable(view, body);
  });
  const create = h("button", { type: "button", class: "primary", testid: "user-create",
    onclick: () => createUserDialog(view, body) }, "New user");
  view.reload = async () => {
    view.users = (await get(usersPath(tenant))).users;
    await renderTable(view, body);
  };
  await view.reload();
  const node = panel("Users and access keys", "users-panel",
    h("div", { class: "toolbar" }, field("Find a user", filter), h("span", { class: "spacer" }), create),
    view.iam.usable ? null : note(`Disabling a key and its last use are IAM calls. ${view.iam.reason}`, "keys-iam-note"),
    body);
  return { node, userNames: () => view.users.map((user) => user.name) };
}

async function renderTable(view, body) {
  const matching = view.users.filter((user) => !view.filter || user.name.toLowerCase().includes(view.filter));
  const shown = matching.slice(0, view.shown);
  if (!view.users.length) {
    mount(body, note("This tenant has no users yet.", "users-empty"));
    return;
  }
  const rows = await Promise.all(shown.map((user) => userRow(view, user, body)));
  const more = matching.length > shown.length
    ? h("button", { type: "button", testid: "users-more", onclick: () => {
      view.shown += PAGE_SIZE;
      renderTable(view, body);
    } }, `Show more (${matching.length - shown.length} left)`)
    : null;
  mount(body, h("div", { class: "table-wrap" }, h("table", { testid: "users-table" },
    h("thead", {}, h("tr", {}, h("th", {}, "User"), h("th", {}, "Role"), h("th", {}, "Sign-in"),
      h("th", { class: "hide-narrow" }, "Created"), h("th", {}, "Access keys"), h("th", {}, "Actions"))),
    h("tbody", {}, rows))),
  matching.length ? null : note("No user matches."), more);
  stacked(body.querySelector("table"));
}

function isSelf(view, user) {
  return view.caller.tenant === view.tenant && view.caller.name.toLowerCase() === user.name.toLowerCase();
}

/** Whether the caller may change this user (only system admins touch a system admin). */
function mayChange(view, user) {
  return user.role !== "system-admin" || view.caller.role === "system-admin";
}

async function userRow(view, user, body) {
  const keysCell = h("td", {});
  await renderKeys(view, user, keysCell);
  const changeable = mayChange(view, user);
  return h("tr", { testid: `user-row-${user.name}` },
    h("td", {}, h("strong", {}, user.name), isSelf(view, user) ? h("span", { class: "muted" }, " (you)") : null),
    h("td", {}, roleSelect(view, user, changeable)),
    h("td", {}, signInFacts(user)),
    h("td", { class: "hide-narrow nowrap" }, formatTime(user.created_at)),
    keysCell,
    h("td", {}, h("div", { class: "row-actions" },
      isSelf(view, user)
        ? h("a", { href: "#/settings", testid: `user-password-${user.name}` }, "Change your password")
        : h("button", { type: "button", testid: `user-password-${user.name}`, disabled: !changeable,
          onclick: () => passwordDialog(view, user) }, user.has_password ? "Reset password" : "Set password"),
      h("button", { type: "button", class: "danger", testid: `user-delete-${user.name}`, disabled: !changeable,
        onclick: () => deleteUser(view, user, body) }, "Delete"))));
}

function signInFacts(user) {
  // Users an identity provider made (`source` "ldap:<name>" or "oidc:<name>") sign in there.
  const federated = user.source && user.source !== "local";
  return h("div", {},
    federated ? badge(user.source, "ok") : user.has_password ? badge("password", "ok") : badge("no password"), " ",
    user.totp_enabled ? badge("TOTP on", "ok") : null);
}

function roleSelect(view, user, changeable) {
  const givable = rolesGivable(view.caller, view.tenant);
  const options = ROLES.filter((role) => givable.includes(role) || role.value === user.role)
    .map((role) => h("option", { value: role.value, selected: role.value === user.role,
      disabled: !givable.includes(role) }, role.value));
  if (!user.role) options.unshift(h("option", { value: "", selected: true, disabled: true }, "no role"));
  const select = h("select", { testid: `user-role-${user.name}`, disabled: !changeable }, options);
  select.addEventListener("change", async () => {
    select.disabled = true;
    try {
      await patch(userPath(view.tenant, user.name), { role: select.value });
      notify(`${user.name} is now ${select.value}.`, "ok");
      user.role = select.value;
    } catch (error) {
      notify(`The role of ${user.name} was not changed: ${explain(error)}`, "error");
      select.value = user.role || "";
    } finally {
      select.disabled = false;
    }
  });
  return labelled(`Role of ${user.name}`, select);
}

function createUserDialog(view, body) {
  const name = h("input", { testid: "user-name", required: true, autocomplete: "off", maxlength: 64 });
  const role = h("select", { testid: "user-role" }, rolesGivable(view.caller, view.tenant)
    .map((r) => h("option", { value: r.value, selected: r.value === "user" }, r.label)));
  const password = h("input", { type: "password", testid: "user-password", autocomplete: "new-password" });
  formDialog({
    title: `New user in ${view.tenant}`, testid: "user-create-dialog", submitLabel: "Create user",
    submitTestid: "user-create-submit",
    fields: [
      field("Name", name, "1 to 64 letters, digits and + = , . @ _ -"),
      field("Role", role, "See the roles in the admin API's documentation."),
      field("Console password (optional)", password, "At least 8 characters. Without one the user cannot sign " +
        "in to the console; its access keys still work."),
    ],
    onSubmit: async () => {
      if (!name.value.trim()) throw new InputError("Give the user a name.");
      const request = { name: name.value.trim(), role: role.value };
      if (password.value) {
        checkPassword(password.value);
        request.password = password.value;
      }
      await post(usersPath(view.tenant), request);
      notify(`User ${request.name} created.`, "ok");
      await view.reload();
      view.onChange();
    },
  });
}

function passwordDialog(view, user) {
  const password = h("input", { type: "password", testid: "user-new-password", autocomplete: "new-password" });
  formDialog({
    title: `New password for ${user.name}`, testid: "user-password-dialog", submitLabel: "Set password",
    submitTestid: "user-password-submit",
    fields: [field("New password", password, "At least 8 characters. The user's console sessions end; " +
      "its access keys keep working.")],
    onSubmit: async () => {
      checkPassword(password.value);
      await patch(userPath(view.tenant, user.name), { password: password.value });
      notify(`The password of ${user.name} is changed.`, "ok");
      await view.reload();
    },
  });
}

async function deleteUser(view, user, body) {
  const self = isSelf(view, user) ? " This is you: your console session ends with it." : "";
  const ok = await confirmDialog(`Delete ${user.name}?`,
    `The user ${user.name} and its access keys are deleted; keys stop working at once.${self}`);
  if (!ok) return;
  try {
    await del(userPath(view.tenant, user.name));
    notify(`User ${user.name} deleted.`, "ok");
    await view.reload();
    view.onChange();
  } catch (error) {
    notify(`${user.name} was not deleted: ${explain(error)}`, "error");
  }
}

/* Access keys. */

async function renderKeys(view, user, cell) {
  let keys;
  try {
    keys = (await get(keysPath(view.tenant, user.name))).keys;
  } catch (error) {
    mount(cell, h("span", { class: "error" }, explain(error)));
    return;
  }
  const lastUsed = view.iam.usable ? await Promise.all(keys.map((key) => keyLastUsed(key))) : [];
  const full = keys.length >= KEYS_PER_USER_MAX;
  mount(cell, h("div", {},
    keys.length ? h("ul", { class: "keys", testid: `keys-${user.name}` },
      keys.map((key, i) => keyItem(view, user, key, lastUsed[i], cell))) : null,
    h("button", { type: "button", testid: `key-create-${user.name}`, disabled: full,
      title: full ? "A user has at most 2 access keys." : null,
      onclick: () => createKey(view, user, cell) }, full ? "2 keys (the most)" : "New key")));
}

async function keyLastUsed(key) {
  try {
    const answer = await queryApi("iam", "GetAccessKeyLastUsed", { AccessKeyId: key.access_key_id });
    const date = text(answer, "LastUsedDate");
    return date ? `last used ${formatTime(date)} (${text(answer, "ServiceName")})` : "not used since the server started";
  } catch (error) {
    return `last use unknown: ${explain(error)}`;
  }
}

function keyItem(view, user, key, lastUsed, cell) {
  const active = key.status === "Active";
  return h("li", { class: active ? "" : "inactive", testid: `key-${key.access_key_id}` },
    h("code", {}, key.access_key_id),
    active ? badge("active", "ok") : badge("inactive", "warn"),
    h("span", { class: "key-facts" }, `created ${formatTime(key.created_at)}`, lastUsed ? `, ${lastUsed}` : ""),
    view.iam.usable
      ? h("button", { type: "button", testid: `key-toggle-${key.access_key_id}`,
        onclick: () => setKeyStatus(view, user, key, active ? "Inactive" : "Active", cell) },
      active ? "Disable" : "Enable")
      : null,
    h("button", { type: "button", class: "danger", testid: `key-delete-${key.access_key_id}`,
      onclick: () => deleteKey(view, user, key, cell) }, "Delete"));
}

async function setKeyStatus(view, user, key, status, cell) {
  try {
    await queryApi("iam", "UpdateAccessKey", { UserName: user.name, AccessKeyId: key.access_key_id, Status: status });
    notify(`Key ${key.access_key_id} is ${status === "Active" ? "enabled" : "disabled"}.`, "ok");
  } catch (error) {
    notify(`IAM refused to change key ${key.access_key_id}: ${explain(error)}`, "error");
  }
  await renderKeys(view, user, cell);
}

async function createKey(view, user, cell) {
  let created;
  try {
    created = await post(keysPath(view.tenant, user.name));
  } catch (error) {
    notify(`No key was created for ${user.name}: ${explain(error)}`, "error");
    return;
  }
  showSecretOnce(created);
  await renderKeys(view, user, cell);
  view.onChange();
}

/** The new key's secret, shown this once, with a copy button. */
export function showSecretOnce(key) {
  const secret = h("code", { class: "secret", testid: "key-secret" }, key.secret_access_key);
  const copied = h("span", { class: "hint", role: "status", testid: "key-copy-status" });
  const copy = h("button", { type: "button", class: "primary", testid: "key-copy", onclick: async () => {
    try {
      await navigator.clipboard.writeText(key.secret_access_key);
      copied.textContent = "Copied.";
    } catch {
      selectText(secret);
      copied.textContent = "The browser refused the clipboard: the secret is selected, press Ctrl+C (⌘C).";
    }
  } }, "Copy the secret");
  modal("New access key", h("div", {},
    h("p", { class: "error", testid: "key-secret-warning" },
      "This is the only time the secret is shown: copy it now. It will not be shown again."),
    h("dl", { class: "facts" },
      h("dt", {}, "Access key id"), h("dd", {}, h("code", { class: "secret", testid: "key-id" }, key.access_key_id)),
      h("dt", {}, "Secret access key"), h("dd", {}, secret)),
    h("div", { class: "actions" }, copied, copy)), "key-secret-dialog");
}

function selectText(node) {
  const range = document.createRange();
  range.selectNodeContents(node);
  const selection = getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

async function deleteKey(view, user, key, cell) {
  const ok = await confirmDialog(`Delete key ${key.access_key_id}?`,
    `Requests signed with it are refused from now on. The user ${user.name} is kept.`);
  if (!ok) return;
  try {
    await del(`${keysPath(view.tenant, user.name)}/${seg(key.access_key_id)}`);
    notify(`Key ${key.access_key_id} deleted.`, "ok");
  } catch (error) {
    notify(`Key ${key.access_key_id} was not deleted: ${explain(error)}`, "error");
  }
  await renderKeys(view, user, cell);
  view.onChange();
}
