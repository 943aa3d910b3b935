import { Arg, ID, Mutation, Query, Resolver } from 'type-graphql';
import { Authorized } from '../../../kernel/auth';
import { currentContext } from '../../../kernel/context';
import { requestLoader } from '../../../kernel/loaders';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { CreateProductInput, Product } from './product.entity';
import { ProductService } from './product.service';

@Resolver(() => Product)
export class ProductResolver {
  private readonly service: ProductService;
  constructor(deps: SubgraphDeps) {
    this.service = new ProductService(deps);
  }

  @Authorized('products:read')
  @Query(() => [Product])
  products(): Promise<Product[]> {
    return this.service.list(currentContext());
  }

  @Authorized('products:read')
  @Query(() => Product, { nullable: true })
  async product(@Arg('id', () => ID) id: string): Promise<Product | null> {
    return (await this.service.byIds(currentContext(), [id]))[0];
  }

  @Authorized('products:manage')
  @Mutation(() => Product)
  createProduct(@Arg('input', () => CreateProductInput) input: CreateProductInput): Promise<Product> {
    return this.service.create(currentContext(), input);
  }
}

export function productReferenceResolver(deps: SubgraphDeps) {
  const service = new ProductService(deps);
  return {
    Product: {
      __resolveReference: (ref: { id: string }) =>
        requestLoader<Product>('commerce.product', (ids) => service.byIds(currentContext(), ids)).load(ref.id),
    },
  };
}
