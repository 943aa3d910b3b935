import type { EntityManager } from 'typeorm';
import type { RequestContext } from '../../../kernel/context';
import { withSystem, withTenant } from '../../../kernel/db/tenant-scope';
import { isPlatformPermission } from '../../../kernel/contracts/permissions';
import { recordEvent } from '../../../kernel/events';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { PERMISSIONS_CHANGED_TOPIC } from '../../../kernel/contracts/topics';
import { PLATFORM_VERSION, SEMVER, compareVersions } from '../../../kernel/version';
import { TEXT_LIMITS, cleanName, lengthRange } from '../../../kernel/text';
import { TenancyErrorCode, tenancyError } from '../tenancy.errors';
import { BUILT_IN_MODULES } from './catalog';
import type { Entitlement, ModuleManifest, ModuleView, PublishModuleInput } from './module.types';

const MODULE_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const PERMISSION = /^[a-z][a-z-]{0,30}:[a-z][a-z-]{0,30}$/;
const EVENT_TYPE = /^[a-z][a-z0-9_.-]{0,99}$/;

export async function moduleCatalog(em: EntityManager): Promise<Map<string, ModuleManifest>> {
  const rows: { manifest: ModuleManifest }[] = await em.query(`SELECT manifest FROM tenancy.modules ORDER BY id`);
  return new Map(rows.map((r) => [r.manifest.id, r.manifest]));
}

/** The dependency chain that leads from `start` back to itself, if any. */
function cycleFrom(start: string, modules: Map<string, ModuleManifest>): string[] | null {
  const walk = (id: string, path: string[]): string[] | null => {
    for (const dep of modules.get(id)?.dependencies ?? []) {
      if (dep === start) return [...path, dep];
      if (path.includes(dep)) continue;
      const found = walk(dep, [...path, dep]);
      if (found) return found;
    }
    return null;
  };
  return walk(start, [start]);
}

/** Adds the built-in manifests the catalog does not have yet, in the caller's transaction. */
export async function seedBuiltInModules(em: EntityManager): Promise<void> {
  for (const m of BUILT_IN_MODULES) {
    await em.query(`INSERT INTO tenancy.modules (id, manifest) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`, [
      m.id,
      JSON.stringify(m),
    ]);
  }
}

/** The modules a tenant has installed, by id, with the installed version. */
export async function installedModules(em: EntityManager, tenantId: string): Promise<Map<string, string>> {
  const rows: { module_id: string; version: string }[] = await em.query(
    `SELECT module_id, version FROM tenancy.tenant_modules WHERE tenant_id = $1`,
    [tenantId],
  );
  return new Map(rows.map((r) => [r.module_id, r.version]));
}

/**
 * Installs a module in the caller's transaction (a member's request, a plan's grant): the checks, the row and the
 * `tenancy.module_installed` event identity grants the permissions from. Announce the event after the commit.
 */
export async function installModule(
  em: EntityManager,
  tenantId: string,
  id: string,
  actorId: string | null | undefined,
): Promise<{ manifest: ModuleManifest; event: string }> {
  const modules = await moduleCatalog(em);
  const manifest = modules.get(id);
  if (!manifest) throw tenancyError(TenancyErrorCode.MODULE_NOT_FOUND);
  if (compareVersions(PLATFORM_VERSION, manifest.minPlatformVersion) < 0) {
    throw tenancyError(
      TenancyErrorCode.MODULE_INCOMPATIBLE,
      `Needs platform ${manifest.minPlatformVersion} (this is ${PLATFORM_VERSION})`,
    );
  }
  const installed = await installedModules(em, tenantId);
  if (installed.has(id)) throw tenancyError(TenancyErrorCode.MODULE_ALREADY_INSTALLED);
  const missing = manifest.dependencies.filter((d) => !installed.has(d));
  if (missing.length)
    throw tenancyError(TenancyErrorCode.MODULE_DEPENDENCY_MISSING, `Install first: ${missing.join(', ')}`);
  await em.query(
    `INSERT INTO tenancy.tenant_modules (tenant_id, module_id, version, installed_by) VALUES ($1, $2, $3, $4)`,
    [tenantId, id, manifest.version, actorId],
  );
  const event = await recordEvent(em, 'tenancy', {
    type: 'tenancy.module_installed',
    tenantId,
    payload: { tenantId, moduleId: id, version: manifest.version, permissions: manifest.permissions, actorId },
  });
  return { manifest, event };
}

/** Uninstalls a module in the caller's transaction (refused while another installed module needs it); the event id. */
export async function uninstallModule(
  em: EntityManager,
  tenantId: string,
  id: string,
  actorId: string | null | undefined,
): Promise<string> {
  const installed = await installedModules(em, tenantId);
  if (!installed.has(id)) throw tenancyError(TenancyErrorCode.MODULE_NOT_INSTALLED);
  const modules = await moduleCatalog(em);
  const dependents = [...installed.keys()].filter((other) => modules.get(other)?.dependencies.includes(id));
  if (dependents.length)
    throw tenancyError(TenancyErrorCode.MODULE_IN_USE, `Uninstall first: ${dependents.join(', ')}`);
  await em.query(`DELETE FROM tenancy.tenant_modules WHERE tenant_id = $1 AND module_id = $2`, [tenantId, id]);
  return recordEvent(em, 'tenancy', {
    type: 'tenancy.module_uninstalled',
    tenantId,
    payload: { tenantId, moduleId: id, actorId },
  });
}

/**
 * The module marketplace: a catalog of manifests (built in, or published by platform operators), and
 * per tenant what is installed, with dependency rules both ways. Installing grants the module's
 * permissions (identity learns it from an event) and entitlements.
 */
export class ModuleService {
  private static readonly seeded = new WeakMap<object, Promise<void>>();

  constructor(private readonly deps: SubgraphDeps) {}

  /** Adds the built-in manifests the catalog does not have yet (once per process, before the first use). */
  seedBuiltIns(): Promise<void> {
    let done = ModuleService.seeded.get(this.deps.ds);
    if (!done) {
      done = withSystem(this.deps.ds, 'seed built-in modules', seedBuiltInModules);
      done.catch(() => ModuleService.seeded.delete(this.deps.ds));
      ModuleService.seeded.set(this.deps.ds, done);
    }
    return done;
  }

  async list(ctx: RequestContext): Promise<ModuleView[]> {
    await this.seedBuiltIns();
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const modules = await moduleCatalog(em);
      const installed = await installedModules(em, tenantId);
      return [...modules.values()].map((m) => ({
        ...m,
        installed: installed.has(m.id),
        installedVersion: installed.get(m.id) ?? null,
      }));
    });
  }

  /** Entitlements of the current tenant: those of its installed modules (the highest number wins). */
  async entitlements(ctx: RequestContext): Promise<Entitlement[]> {
    await this.seedBuiltIns();
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const modules = await moduleCatalog(em);
      const out = new Map<string, Entitlement>();
      for (const id of (await installedModules(em, tenantId)).keys()) {
        for (const [key, value] of Object.entries(modules.get(id)?.entitlements ?? {})) {
          const prev = out.get(key);
          if (!prev || (typeof value === 'number' && typeof prev.value === 'number' && value > prev.value))
            out.set(key, { key, value, moduleId: id });
        }
      }
      return [...out.values()].sort((a, b) => a.key.localeCompare(b.key));
    });
  }

  /** Platform operators add a module (or a new version of one) to the catalog. */
  async publish(input: PublishModuleInput): Promise<ModuleView> {
    const manifest = this.checked(input);
    await this.seedBuiltIns();
    await withSystem(this.deps.ds, `publish module ${manifest.id}`, async (em) => {
      const modules = await moduleCatalog(em);
      const missing = manifest.dependencies.filter((d) => d !== manifest.id && !modules.has(d));
      if (missing.length)
        throw tenancyError(TenancyErrorCode.MODULE_DEPENDENCY_MISSING, `Unknown dependencies: ${missing.join(', ')}`);
      const current = modules.get(manifest.id);
      if (current && compareVersions(manifest.version, current.version) <= 0) {
        throw tenancyError(TenancyErrorCode.INVALID_MODULE, `Version must be newer than ${current.version}`);
      }
      modules.set(manifest.id, manifest);
      const cycle = cycleFrom(manifest.id, modules);
      if (cycle) throw tenancyError(TenancyErrorCode.MODULE_DEPENDENCY_CYCLE, `Dependency cycle: ${cycle.join(' → ')}`);
      await em.query(
        `INSERT INTO tenancy.modules (id, manifest) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET manifest = EXCLUDED.manifest, published_at = now()`,
        [manifest.id, JSON.stringify(manifest)],
      );
    });
    return { ...manifest, installed: false, installedVersion: null };
  }

  async install(ctx: RequestContext, id: string): Promise<ModuleView> {
    await this.seedBuiltIns();
    const { manifest, event } = await withTenant(this.deps.ds, ctx, (em, tenantId) =>
      installModule(em, tenantId, id, ctx.userId),
    );
    await this.announce(ctx.tenantId!, event);
    return { ...manifest, installed: true, installedVersion: manifest.version };
  }

  async uninstall(ctx: RequestContext, id: string): Promise<boolean> {
    const event = await withTenant(this.deps.ds, ctx, (em, tenantId) => uninstallModule(em, tenantId, id, ctx.userId));
    await this.announce(ctx.tenantId!, event);
    return true;
  }

  /** Identity applies the permissions before the caller gets the answer; gateways re-read rights at once. */
  private async announce(tenantId: string, event: string): Promise<void> {
    await this.deps.outbox.deliverNow([event]);
    await this.deps.pubsub.publish(PERMISSIONS_CHANGED_TOPIC, { tenantId });
  }

  private checked(input: PublishModuleInput): ModuleManifest {
    const fail = (message: string) => tenancyError(TenancyErrorCode.INVALID_MODULE, message);
    if (!MODULE_ID.test(input.id ?? '')) throw fail('id: lower-case letters, digits and dashes');
    const name = cleanName(input.name ?? '');
    if (name.length < 1 || name.length > TEXT_LIMITS.moduleName)
      throw fail(`name: ${lengthRange(TEXT_LIMITS.moduleName)}`);
    if (!SEMVER.test(input.version ?? '') || !SEMVER.test(input.minPlatformVersion ?? ''))
      throw fail('version and minPlatformVersion: major.minor.patch');
    if (compareVersions(PLATFORM_VERSION, input.minPlatformVersion) < 0) {
      throw tenancyError(
        TenancyErrorCode.MODULE_INCOMPATIBLE,
        `Needs platform ${input.minPlatformVersion} (this is ${PLATFORM_VERSION})`,
      );
    }
    const dependencies = [...new Set(input.dependencies ?? [])];
    if (dependencies.includes(input.id))
      throw tenancyError(TenancyErrorCode.MODULE_DEPENDENCY_CYCLE, `${input.id} cannot depend on itself`);
    if (!dependencies.every((d) => MODULE_ID.test(d))) throw fail('dependencies: module ids');
    const permissions = [...new Set(input.permissions ?? [])].sort();
    if (!permissions.every((p) => PERMISSION.test(p)) || permissions.some(isPlatformPermission))
      throw fail('permissions: resource:action strings, not platform ones');
    const entitlements = input.entitlements ?? {};
    const entries = Object.entries(entitlements);
    const fits = ([key, v]: [string, unknown]) =>
      key.length >= 1 &&
      key.length <= TEXT_LIMITS.entitlementKey &&
      (typeof v === 'number' ||
        typeof v === 'boolean' ||
        (typeof v === 'string' && v.length <= TEXT_LIMITS.entitlementValue));
    if (entries.length > 50 || !entries.every(fits)) {
      throw fail(
        `entitlements: at most 50, keys of ${lengthRange(TEXT_LIMITS.entitlementKey)}, values numbers, booleans or text of ${lengthRange(TEXT_LIMITS.entitlementValue, 0)}`,
      );
    }
    const events = [...(input.emits ?? []), ...(input.consumes ?? [])];
    if (!events.every((e) => EVENT_TYPE.test(e))) throw fail('emits/consumes: event types');
    return {
      id: input.id,
      name,
      version: input.version,
      minPlatformVersion: input.minPlatformVersion,
      dependencies,
      permissions,
      entitlements: entitlements as ModuleManifest['entitlements'],
      emits: input.emits ?? [],
      consumes: input.consumes ?? [],
    };
  }
}
