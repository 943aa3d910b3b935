import {
  AppendLedgerEntryDocument,
  CreateDocumentDocument,
  CreateProductDocument,
  RequestTenantExportDocument,
  TenantExportDocument,
  TenantExportsDocument,
} from './generated/graphql';
import { SUBGRAPHS } from '../kernel/services';
import { codes, gql } from './support/gql';
import { createRoomWithMessage, joinByInvitation, signUp } from './support/fixtures';
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
    const owner = await signUp(t.gatewayUrl, 'Export Co');
    const other = await signUp(t.gatewayUrl, 'Private Co');
    await gql(
      t.gatewayUrl,
      CreateProductDocument,
      { input: { name: 'Exported widget', priceCents: 100, currency: 'USD' } },
      { token: owner.token },
    );
    await gql(
      t.gatewayUrl,
      CreateProductDocument,
      { input: { name: 'Secret gadget', priceCents: 100, currency: 'USD' } },
      { token: other.token },
    );
    await gql(
      t.gatewayUrl,
      AppendLedgerEntryDocument,
      { input: { account: 'cash', amountCents: 250, memo: 'first sale' } },
      { token: owner.token },
    );
    await createRoomWithMessage(t.gatewayUrl, owner, 'hello export');
    await gql(
      t.gatewayUrl,
      CreateDocumentDocument,
      { input: { title: 'Handbook', content: 'Be kind' } },
      { token: owner.token },
    );
    const admin = await joinByInvitation(t.gatewayUrl, t.config, owner, 'admin');
    expect(codes(await gql(t.gatewayUrl, RequestTenantExportDocument, {}, { token: admin.token }))).toEqual([
      'FORBIDDEN',
    ]);

    const requested = await gql(t.gatewayUrl, RequestTenantExportDocument, {}, { token: owner.token });
    const id = requested.data!.requestTenantExport.id;
    let result = (await gql(t.gatewayUrl, TenantExportDocument, { id }, { token: owner.token })).data!.tenantExport;
    for (let i = 0; i < 60 && result.status !== 'READY'; i++) {
      await sleep(250);
      result = (await gql(t.gatewayUrl, TenantExportDocument, { id }, { token: owner.token })).data!.tenantExport;
    }
    expect(result.status).toBe('READY');
    expect(result.received.sort()).toEqual([...SUBGRAPHS].sort());
    const parts = Object.fromEntries(
      result.parts!.map((p) => [p.subgraph, p.tables as Record<string, Record<string, unknown>[]>]),
    );
    expect(parts.commerce.products.map((p) => p.name)).toEqual(['Exported widget']);
    expect(parts.ledger.entries[0]).toMatchObject({ memo: 'first sale' });
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

    const listed = await gql(t.gatewayUrl, TenantExportsDocument, {}, { token: owner.token });
    expect(listed.data!.tenantExports).toEqual([{ id, status: 'READY', parts: null }]);
    expect(codes(await gql(t.gatewayUrl, TenantExportDocument, { id }, { token: other.token }))).toEqual([
      'EXPORT_NOT_FOUND',
    ]);
  });
});
