import type { SubgraphDefinition } from '../../kernel/subgraph';
import { CommerceInit1763683200000 } from '../../migrations/commerce/1763683200000-commerce-init';
import { Product } from './products/product.entity';
import { ProductResolver, productReferenceResolver } from './products/product.resolver';

/** Products and prices (billing and affiliates build on these). */
export const commerceSubgraph: SubgraphDefinition = {
  name: 'commerce',
  entities: [Product],
  migrations: [CommerceInit1763683200000],
  resolvers: [ProductResolver],
  referenceResolvers: productReferenceResolver,
};
