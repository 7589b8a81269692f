// An in-memory SCIM 2.0 server whose protocol logic is all scimmy's and scimmy-routers': parsing, filtering,
// PATCH, projection, errors and discovery. The only code of ours is storage — Map-backed ingress, egress and
// degress handlers — and the uniqueness that SCIMMY's schemas declare (uniqueness "server") but leave to storage.
// Usage: PORT=… TOKEN=… node server.mjs   (base URL http://127.0.0.1:PORT/scim/v2; every start is an empty store)
import crypto from "node:crypto";
import express from "express";
import SCIMMY from "scimmy";
import SCIMMYRouters from "scimmy-routers";

const PORT = Number(process.env.PORT);
const TOKEN = process.env.TOKEN;
const plain = (value) => JSON.parse(JSON.stringify(value));

function declare(Resource) {
    const store = new Map();
    const unique = Resource.schema.definition.attributes.filter((a) => ["server", "global"].includes(a.config?.uniqueness));
    const same = (attribute, a, b) =>
        attribute.config.caseExact ? a === b : String(a).toLowerCase() === String(b).toLowerCase();
    SCIMMY.Resources.declare(Resource)
        .ingress((resource, instance) => {
            const data = plain(instance);
            delete data.id;
            delete data.meta;
            for (const attribute of unique) {
                const clash = [...store.values()].find(
                    (r) => r.id !== resource.id && data[attribute.name] !== undefined && same(attribute, r[attribute.name], data[attribute.name]));
                if (clash) throw new SCIMMY.Types.Error(409, "uniqueness", `${attribute.name} ${data[attribute.name]} already exists`);
            }
            const now = new Date().toISOString();
            const old = resource.id ? store.get(resource.id) : undefined;
            if (resource.id && !old) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
            const id = resource.id ?? crypto.randomUUID();
            const record = {...data, id, meta: {created: old?.meta.created ?? now, lastModified: now}};
            store.set(id, record);
            return record;
        })
        .egress((resource) => {
            if (resource.id) {
                const record = store.get(resource.id);
                if (!record) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
                return record;
            }
            const all = [...store.values()];
            return resource.filter ? resource.filter.match(all) : all;
        })
        .degress((resource) => {
            if (!store.delete(resource.id)) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
        });
}

declare(SCIMMY.Resources.User.extend(SCIMMY.Schemas.EnterpriseUser, false));
declare(SCIMMY.Resources.Group);

const app = express();
app.use("/scim/v2", new SCIMMYRouters({
    type: "bearer",
    handler: (request) => {
        if (request.header("Authorization") !== `Bearer ${TOKEN}`) throw new Error("Invalid or missing bearer token");
        return "scimconform";
    },
}));
const server = app.listen(PORT, "127.0.0.1", () => console.log(`scimmy on http://127.0.0.1:${PORT}/scim/v2`));
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => server.close(() => process.exit(0)));
