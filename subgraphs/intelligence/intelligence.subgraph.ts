import type { SubgraphDefinition } from '../../kernel/subgraph';
import { IntelligenceInit1763683200000 } from '../../migrations/intelligence/1763683200000-intelligence-init';
import { Document } from './documents/document.entity';
import { DocumentResolver } from './documents/document.resolver';

/** Documents, embeddings and (later) the assistant. */
export const intelligenceSubgraph: SubgraphDefinition = {
  name: 'intelligence',
  entities: [Document],
  migrations: [IntelligenceInit1763683200000],
  resolvers: [DocumentResolver],
};
