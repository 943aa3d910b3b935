import type { ModuleManifest } from './module.types';

/** Modules the platform ships with (more can be published by Super Admins). */
export const BUILT_IN_MODULES: ModuleManifest[] = [
  {
    id: 'chat',
    name: 'Team chat',
    version: '1.0.0',
    minPlatformVersion: '0.1.0',
    dependencies: [],
    permissions: [],
    entitlements: { 'messages.per_month': 100_000 },
    emits: ['messaging.message_sent'],
    consumes: ['tenancy.tenant_created'],
  },
  {
    id: 'billing',
    name: 'Billing',
    version: '1.0.0',
    minPlatformVersion: '0.1.0',
    dependencies: [],
    permissions: ['billing:read', 'billing:manage'],
    entitlements: { 'billing.invoices': true },
    emits: ['commerce.invoice_paid'],
    consumes: [],
  },
  {
    id: 'affiliates',
    name: 'Affiliate program',
    version: '1.0.0',
    minPlatformVersion: '0.1.0',
    dependencies: ['billing'],
    permissions: ['affiliates:read', 'affiliates:manage'],
    entitlements: { 'affiliates.links': 1_000 },
    emits: ['commerce.commission_earned'],
    consumes: ['commerce.invoice_paid'],
  },
  {
    id: 'ai-assistant',
    name: 'AI assistant',
    version: '1.0.0',
    minPlatformVersion: '0.1.0',
    dependencies: [],
    permissions: ['assistant:use'],
    entitlements: { 'llm.tokens_per_month': 1_000_000 },
    emits: [],
    consumes: ['messaging.message_sent'],
  },
];
