// Page #/tenants/<tenant> (system admins; a tenant's own admins see theirs): one tenant whole,
// through the shared view in admin-tenant-view.js.

import { isAdmin } from "../app.js";
import { h, mount } from "../ui.js";
import { renderTenantView } from "./admin-tenant-view.js";
import { note } from "./admin-common.js";

export async function render(root, ctx) {
  const name = ctx.params.tenant;
  const mayView = ctx.user.role === "system-admin" || (isAdmin(ctx.user) && ctx.user.tenant === name);
  if (!mayView) {
    mount(root, h("h1", {}, name),
      note("Only system admins see other tenants. Your own tenant is under Users and keys.", "tenant-unavailable"));
    return;
  }
  const crumbs = h("nav", { class: "breadcrumbs", "aria-label": "Breadcrumbs" },
    h("a", { href: "#/tenants", testid: "crumb-tenants" }, "Tenants"), " / ", h("span", {}, name));
  await renderTenantView(root, ctx, name, { heading: `Tenant ${name}`, crumbs });
}
