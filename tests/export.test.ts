import {
  CreateDocumentDocument,
  CreateLedgerAccountDocument,
  CreateProductDocument,
  RequestTenantExportDocument,
  TenantExportDocument,
  TenantExportsDocument,
} from './generated/graphql';
import { SUBGRAPHS } from '../kernel/services';
import { codes } from './support/gql';
import { startTestPlatform, type TestPlatform } from './support/platform';
import { sleep } from './support/ws';

let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(async () => {
  await t?.stop();
});

describe('tenant export', () => {
  it("assembles every service's rows of the tenant, without secrets or other tenants' data", async () => {
    const owner = await t.signUp('Export Co');
    const other = await t.signUp('Private Co');
    await owner.gql(CreateProductDocument, { input: { name: 'Exported widget', priceCents: 100, currency: 'USD' } });
    await other.gql(CreateProductDocument, { input: { name: 'Secret gadget', priceCents: 100, currency: 'USD' } });
    await owner.gql(CreateLedgerAccountDocument, { input: { code: 'sales:first', currency: 'EUR' } });
    await owner.createRoomWithMessage('hello export');
    await owner.gql(CreateDocumentDocument, { input: { title: 'Handbook', content: 'Be kind' } });
    const admin = await owner.invite('admin');
    expect(codes(await admin.gql(RequestTenantExportDocument, {}))).toEqual(['FORBIDDEN']);

    const requested = await owner.gql(RequestTenantExportDocument, {});
    const id = requested.data!.requestTenantExport.id;
    let result = (await owner.gql(TenantExportDocument, { id })).data!.tenantExport;
    for (let i = 0; i < 60 && result.status !== 'READY'; i++) {
      await sleep(250);
      result = (await owner.gql(TenantExportDocument, { id })).data!.tenantExport;
    }
    expect(result.status).toBe('READY');
    expect(result.received.sort()).toEqual([...SUBGRAPHS].sort());
    const parts = Object.fromEntries(
      result.parts!.map((p) => [p.subgraph, p.tables as Record<string, Record<string, unknown>[]>]),
    );
    expect(parts.commerce.products.map((p) => p.name)).toEqual(['Exported widget']);
    expect(parts.ledger.accounts).toEqual([expect.objectContaining({ code: 'sales:first', currency: 'EUR' })]);
    expect(parts.messaging.messages.map((m) => m.body)).toContain('hello export');
    expect(parts.intelligence.documents.map((d) => d.title)).toEqual(['Handbook']);
    expect(parts.identity.memberships).toHaveLength(2);
    expect(parts.tenancy.tenants[0]).toMatchObject({ tenant_id: owner.tenantId, name: 'Export Co' });

    const text = JSON.stringify(result.parts);
    expect(text).not.toContain('Secret gadget');
    expect(text).not.toContain(other.tenantId);
    const columns = Object.values(parts).flatMap((tables) =>
      Object.values(tables).flatMap((rows) => rows.flatMap((r) => Object.keys(r))),
    );
    expect(columns).toContain('tenant_id');
    expect(columns.filter((c) => /hash|secret|token|password|totp/.test(c))).toEqual([]);

    const listed = await owner.gql(TenantExportsDocument, {});
    expect(listed.data!.tenantExports).toEqual([{ id, status: 'READY', parts: null }]);
    expect(codes(await other.gql(TenantExportDocument, { id }))).toEqual(['EXPORT_NOT_FOUND']);
  });
});
