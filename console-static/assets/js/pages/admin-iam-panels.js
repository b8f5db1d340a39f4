// Groups and managed policies of the caller's own tenant, through the IAM query API on the S3
// port (s3.js queryApi): list, create and delete groups, add users to them; list, create
// (with a JSON editor that shows the error at its line), delete and attach customer-managed
// policies to users and groups. Where the console cannot call IAM, the panels say why.

import { queryApi, text } from "../s3.js";
import { h, mount, notify, explain, confirmDialog, modal, field, formatTime } from "../ui.js";
import { formDialog, panel, note, InputError, iamAccess, stacked } from "./admin-common.js";
import { policyEditor } from "./admin-policy-editor.js";

const LIST_ITEMS_MAX = 1000;
const AWS_POLICIES = ["AdministratorAccess", "AmazonS3FullAccess", "AmazonS3ReadOnlyAccess", "IAMFullAccess",
  "IAMReadOnlyAccess"].map((name) => ({ name, arn: `arn:aws:iam::aws:policy/${name}` }));

/** Every `member` of a paged IAM list (following Marker), as plain objects of `fields`. */
async function iamList(action, params, fields) {
  const items = [];
  let marker = "";
  do {
    const answer = await queryApi("iam", action, { ...params, MaxItems: "1000", ...(marker ? { Marker: marker } : {}) });
    for (const member of answer.getElementsByTagName("member")) {
      // Only direct entries of the list (a member may hold nested lists of its own).
      if (!fields.every((name) => member.getElementsByTagName(name).length)) continue;
      items.push(Object.fromEntries(fields.map((name) => [name, text(member, name)])));
    }
    marker = text(answer, "IsTruncated") === "true" ? text(answer, "Marker") : "";
  } while (marker && items.length < LIST_ITEMS_MAX);
  return items;
}

/** Both panels for `tenant`; `users` are the tenant's user names (for the pickers). */
export async function iamPanels(ctx, tenant, usersOf) {
  const access = iamAccess(ctx.user, tenant);
  const groups = h("div", {});
  const policies = h("div", {});
  const view = { ctx, tenant, usersOf, groupsBody: groups, policiesBody: policies, groups: [], policies: [] };
  if (!access.usable) {
    return [panel("Groups", "groups-panel", note(`Groups are IAM records. ${access.reason}`, "groups-unavailable")),
      panel("Managed policies", "policies-panel",
        note(`Managed policies are IAM records. ${access.reason}`, "policies-unavailable"))];
  }
  await Promise.all([reloadGroups(view), reloadPolicies(view)]);
  return [
    panel("Groups", "groups-panel",
      h("div", { class: "toolbar" }, h("span", { class: "spacer" }),
        h("button", { type: "button", class: "primary", testid: "group-create", onclick: () => createGroup(view) },
          "New group")),
      groups),
    panel("Managed policies", "policies-panel",
      h("div", { class: "toolbar" }, h("span", { class: "muted" }, "Customer-managed policies of this tenant."),
        h("span", { class: "spacer" }),
        h("button", { type: "button", class: "primary", testid: "policy-create", onclick: () => createPolicy(view) },
          "New policy")),
      policies),
  ];
}

function refused(body, what, error) {
  mount(body, h("p", { class: "error", testid: "iam-refused" }, `IAM refused to ${what}: ${explain(error)}`));
}

/* Groups. */

async function reloadGroups(view) {
  try {
    view.groups = await iamList("ListGroups", {}, ["GroupName", "Arn", "CreateDate"]);
    await Promise.all(view.groups.map(async (group) => {
      const [members, attached] = await Promise.all([
        iamList("GetGroup", { GroupName: group.GroupName }, ["UserName", "Arn"]),
        iamList("ListAttachedGroupPolicies", { GroupName: group.GroupName }, ["PolicyName", "PolicyArn"]),
      ]);
      group.members = members.map((m) => m.UserName);
      group.policies = attached.map((p) => p.PolicyName);
    }));
  } catch (error) {
    refused(view.groupsBody, "list the groups", error);
    return;
  }
  if (!view.groups.length) {
    mount(view.groupsBody, note("No groups yet.", "groups-empty"));
    return;
  }
  mount(view.groupsBody, h("div", { class: "table-wrap" }, h("table", { testid: "groups-table" },
    h("thead", {}, h("tr", {}, h("th", {}, "Group"), h("th", {}, "Members"), h("th", {}, "Policies"),
      h("th", { class: "hide-narrow" }, "Created"), h("th", {}, "Actions"))),
    h("tbody", {}, view.groups.map((group) => groupRow(view, group))))));
  stacked(view.groupsBody.querySelector("table"));
}

function groupRow(view, group) {
  return h("tr", { testid: `group-row-${group.GroupName}` },
    h("td", {}, h("strong", {}, group.GroupName)),
    h("td", {}, group.members.length ? group.members.join(", ") : h("span", { class: "muted" }, "none")),
    h("td", {}, group.policies.length ? group.policies.join(", ") : h("span", { class: "muted" }, "none")),
    h("td", { class: "hide-narrow nowrap" }, formatTime(group.CreateDate)),
    h("td", {}, h("div", { class: "row-actions" },
      h("button", { type: "button", testid: `group-add-user-${group.GroupName}`,
        onclick: () => addUserToGroup(view, group) }, "Add user"),
      h("button", { type: "button", testid: `group-attach-${group.GroupName}`,
        onclick: () => attachToGroup(view, group) }, "Attach policy"),
      h("button", { type: "button", class: "danger", testid: `group-delete-${group.GroupName}`,
        onclick: () => deleteGroup(view, group) }, "Delete"))));
}

function createGroup(view) {
  const name = h("input", { testid: "group-name", maxlength: 128, autocomplete: "off" });
  formDialog({
    title: "New group", testid: "group-create-dialog", submitLabel: "Create group", submitTestid: "group-create-submit",
    fields: [field("Name", name, "1 to 128 letters, digits and + = , . @ _ -")],
    onSubmit: async () => {
      if (!name.value.trim()) throw new InputError("Give the group a name.");
      await queryApi("iam", "CreateGroup", { GroupName: name.value.trim() });
      notify(`Group ${name.value.trim()} created.`, "ok");
      await reloadGroups(view);
    },
  });
}

function addUserToGroup(view, group) {
  const candidates = view.usersOf().filter((name) => !group.members.includes(name));
  const user = h("select", { testid: "group-user" }, candidates.map((name) => h("option", { value: name }, name)));
  formDialog({
    title: `Add a user to ${group.GroupName}`, testid: "group-add-user-dialog", submitLabel: "Add",
    submitTestid: "group-add-user-submit",
    fields: [candidates.length ? field("User", user) : note("Every user of the tenant is in this group already.")],
    onSubmit: async () => {
      if (!candidates.length) return;
      await queryApi("iam", "AddUserToGroup", { GroupName: group.GroupName, UserName: user.value });
      notify(`${user.value} is in ${group.GroupName} now.`, "ok");
      await reloadGroups(view);
    },
  });
}

function attachToGroup(view, group) {
  const choices = [...view.policies.map((p) => ({ name: p.PolicyName, arn: p.Arn })), ...AWS_POLICIES]
    .filter((p) => !group.policies.includes(p.name));
  const policy = h("select", { testid: "group-policy" }, choices.map((p) => h("option", { value: p.arn },
    p.arn.includes(":aws:policy/") ? `${p.name} (AWS managed)` : p.name)));
  formDialog({
    title: `Attach a policy to ${group.GroupName}`, testid: "group-attach-dialog", submitLabel: "Attach",
    submitTestid: "group-attach-submit",
    fields: [field("Policy", policy, "Its members get what it allows.")],
    onSubmit: async () => {
      await queryApi("iam", "AttachGroupPolicy", { GroupName: group.GroupName, PolicyArn: policy.value });
      notify(`${policy.selectedOptions[0].textContent} is attached to ${group.GroupName}.`, "ok");
      await Promise.all([reloadGroups(view), reloadPolicies(view)]);
    },
  });
}

async function deleteGroup(view, group) {
  if (group.members.length || group.policies.length) {
    notify(`IAM deletes only an empty group: ${group.GroupName} still has ` +
      [group.members.length ? `${group.members.length} member(s)` : "", group.policies.length ?
        `${group.policies.length} attached polic${group.policies.length > 1 ? "ies" : "y"}` : ""]
        .filter(Boolean).join(" and ") + ". Remove them first (aws iam remove-user-from-group, " +
      "detach-group-policy).", "error");
    return;
  }
  if (!(await confirmDialog(`Delete group ${group.GroupName}?`, "The group is deleted from this tenant's IAM."))) return;
  try {
    await queryApi("iam", "DeleteGroup", { GroupName: group.GroupName });
    notify(`Group ${group.GroupName} deleted.`, "ok");
  } catch (error) {
    notify(`IAM refused to delete ${group.GroupName}: ${explain(error)}`, "error");
  }
  await reloadGroups(view);
}

/* Managed policies. */

async function reloadPolicies(view) {
  try {
    view.policies = await iamList("ListPolicies", { Scope: "Local" },
      ["PolicyName", "Arn", "AttachmentCount", "CreateDate", "DefaultVersionId"]);
  } catch (error) {
    refused(view.policiesBody, "list the policies", error);
    return;
  }
  if (!view.policies.length) {
    mount(view.policiesBody, note("No customer-managed policies yet.", "policies-empty"));
    return;
  }
  mount(view.policiesBody, h("div", { class: "table-wrap" }, h("table", { testid: "policies-table" },
    h("thead", {}, h("tr", {}, h("th", {}, "Policy"), h("th", { class: "num" }, "Attached to"),
      h("th", { class: "hide-narrow" }, "Created"), h("th", {}, "Actions"))),
    h("tbody", {}, view.policies.map((policy) => policyRow(view, policy))))));
  stacked(view.policiesBody.querySelector("table"));
}

function policyRow(view, policy) {
  return h("tr", { testid: `policy-row-${policy.PolicyName}` },
    h("td", {}, h("strong", {}, policy.PolicyName), h("br"), h("small", { class: "muted" }, policy.Arn)),
    h("td", { class: "num" }, policy.AttachmentCount),
    h("td", { class: "hide-narrow nowrap" }, formatTime(policy.CreateDate)),
    h("td", {}, h("div", { class: "row-actions" },
      h("button", { type: "button", testid: `policy-view-${policy.PolicyName}`, onclick: () => showPolicy(policy) }, "View"),
      h("button", { type: "button", testid: `policy-attach-${policy.PolicyName}`,
        onclick: () => attachPolicy(view, policy) }, "Attach"),
      h("button", { type: "button", class: "danger", testid: `policy-delete-${policy.PolicyName}`,
        onclick: () => deletePolicy(view, policy) }, "Delete"))));
}

async function showPolicy(policy) {
  try {
    const answer = await queryApi("iam", "GetPolicyVersion", { PolicyArn: policy.Arn, VersionId: policy.DefaultVersionId });
    const document = decodeURIComponent(text(answer, "Document"));
    let pretty = document;
    try {
      pretty = JSON.stringify(JSON.parse(document), null, 2);
    } catch {
      // Shown as stored.
    }
    modal(`Policy ${policy.PolicyName} (${policy.DefaultVersionId})`, h("pre", { class: "secret", testid: "policy-document-view" },
      pretty), "policy-view-dialog");
  } catch (error) {
    notify(`IAM refused to show ${policy.PolicyName}: ${explain(error)}`, "error");
  }
}

function createPolicy(view) {
  const name = h("input", { testid: "policy-name", maxlength: 128, autocomplete: "off" });
  const editor = policyEditor(JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow",
    Action: ["s3:GetObject", "s3:ListBucket"], Resource: ["arn:aws:s3:::example-bucket", "arn:aws:s3:::example-bucket/*"] }] },
  null, 2), "policy-document");
  formDialog({
    title: "New managed policy", testid: "policy-create-dialog", submitLabel: "Create policy",
    submitTestid: "policy-create-submit", wide: true,
    fields: [field("Name", name, "1 to 128 letters, digits and + = , . @ _ -"), editor.node],
    onSubmit: async () => {
      if (!name.value.trim()) throw new InputError("Give the policy a name.");
      const documentText = editor.check();
      try {
        await queryApi("iam", "CreatePolicy", { PolicyName: name.value.trim(), PolicyDocument: documentText });
      } catch (error) {
        editor.showServerError(error);
        throw error;
      }
      notify(`Policy ${name.value.trim()} created.`, "ok");
      await reloadPolicies(view);
    },
  });
}

function attachPolicy(view, policy) {
  const targets = [
    ...view.usersOf().map((name) => ({ value: `user:${name}`, label: `user ${name}` })),
    ...view.groups.map((group) => ({ value: `group:${group.GroupName}`, label: `group ${group.GroupName}` })),
  ];
  const target = h("select", { testid: "policy-attach-target" }, targets.map((t) => h("option", { value: t.value }, t.label)));
  formDialog({
    title: `Attach ${policy.PolicyName}`, testid: "policy-attach-dialog", submitLabel: "Attach",
    submitTestid: "policy-attach-submit",
    fields: [targets.length ? field("To", target) : note("This tenant has no users or groups to attach it to.")],
    onSubmit: async () => {
      if (!targets.length) return;
      const [kind, name] = [target.value.slice(0, target.value.indexOf(":")), target.value.slice(target.value.indexOf(":") + 1)];
      if (kind === "user") await queryApi("iam", "AttachUserPolicy", { UserName: name, PolicyArn: policy.Arn });
      else await queryApi("iam", "AttachGroupPolicy", { GroupName: name, PolicyArn: policy.Arn });
      notify(`${policy.PolicyName} is attached to ${kind} ${name}.`, "ok");
      await Promise.all([reloadPolicies(view), reloadGroups(view)]);
    },
  });
}

async function deletePolicy(view, policy) {
  if (Number(policy.AttachmentCount) > 0) {
    notify(`IAM deletes only a policy attached to nothing: ${policy.PolicyName} is attached to ` +
      `${policy.AttachmentCount} user(s), group(s) or role(s). Detach it first (aws iam detach-user-policy, ` +
      "detach-group-policy, detach-role-policy).", "error");
    return;
  }
  if (!(await confirmDialog(`Delete policy ${policy.PolicyName}?`, "The policy and all its versions are deleted."))) return;
  try {
    await queryApi("iam", "DeletePolicy", { PolicyArn: policy.Arn });
    notify(`Policy ${policy.PolicyName} deleted.`, "ok");
  } catch (error) {
    notify(`IAM refused to delete ${policy.PolicyName}: ${explain(error)}`, "error");
  }
  await reloadPolicies(view);
}

