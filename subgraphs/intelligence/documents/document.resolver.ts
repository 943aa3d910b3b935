import { Arg, Mutation, Query, Resolver } from 'type-graphql';
import { Authorized } from '../../../kernel/auth';
import { currentContext } from '../../../kernel/context';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { CreateDocumentInput, Document } from './document.entity';
import { DocumentService } from './document.service';

@Resolver(() => Document)
export class DocumentResolver {
  private readonly service: DocumentService;
  constructor(deps: SubgraphDeps) {
    this.service = new DocumentService(deps);
  }

  @Authorized('documents:read')
  @Query(() => [Document])
  documents(): Promise<Document[]> {
    return this.service.list(currentContext());
  }

  @Authorized('documents:write')
  @Mutation(() => Document)
  createDocument(@Arg('input', () => CreateDocumentInput) input: CreateDocumentInput): Promise<Document> {
    return this.service.create(currentContext(), input);
  }
}
