// Page #/users: the caller's own tenant (users, access keys, groups, policies, usage), through
// the shared view in admin-tenant-view.js. Admins only; others are told so without a request.

import { isAdmin } from "../app.js";
import { h, mount } from "../ui.js";
import { renderTenantView } from "./admin-tenant-view.js";
import { note } from "./admin-common.js";

export async function render(root, ctx) {
  if (!isAdmin(ctx.user)) {
    mount(root, h("h1", {}, "Users and keys"),
      note("Only tenant admins and system admins manage users and access keys. Your own password and " +
        "two-factor sign-in are under Settings.", "users-unavailable"),
      h("a", { href: "#/settings" }, "Go to Settings"));
    return;
  }
  await renderTenantView(root, ctx, ctx.user.tenant, { heading: `Users and keys of ${ctx.user.tenant}` });
}
