// GraphQL Yoga 5 as its docs show (createYoga on node:http, a context factory that
// authenticates the request), reading the product's `users` and `todos` with the official
// driver. A benchmark peer: see bench/run.py.
//
// Environment: PORT, MONGODB_URL, MONGODB_DB, JWT_SECRET, JWT_ISSUER, JWT_AUDIENCE.
import { createHmac, createSecretKey } from 'node:crypto';
import { createServer } from 'node:http';
import { GraphQLError } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import jwt from 'jsonwebtoken';
import { MongoClient, ObjectId } from 'mongodb';

const env = process.env;
const secret = env.JWT_SECRET;
const key = createSecretKey(Buffer.from(secret)); // once, not per request
// The product names its HS256 key by a PRF of the secret and refuses any other `kid`.
const kid = 'hs-' + createHmac('sha256', secret).update('graphql-app/kid').digest().subarray(0, 9).toString('base64url');
const verifyOptions = {
  algorithms: ['HS256'],
  issuer: env.JWT_ISSUER ?? 'graphql-app',
  audience: env.JWT_AUDIENCE ?? 'graphql-app',
  complete: true,
};

const client = new MongoClient(env.MONGODB_URL);
const db = client.db(env.MONGODB_DB);
const users = db.collection('users');
const todos = db.collection('todos');

// The same checks as the product: signature, algorithm, kid, iss, aud, exp/nbf, an access token.
function claims(authorization) {
  if (!authorization?.startsWith('Bearer ')) return null;
  try {
    const { header, payload } = jwt.verify(authorization.slice(7), key, verifyOptions);
    if (header.kid !== kid || payload.type !== 'access' || typeof payload.sub !== 'string') return null;
    return payload;
  } catch {
    return null;
  }
}

// The product's opaque cursor: base64url of [created_at in ms, "<_id>"], without padding.
const cursor = (doc) => Buffer.from(`[${doc.created_at.getTime()},"${doc._id}"]`).toString('base64url');

function requireUser(context) {
  if (!context.user) {
    throw new GraphQLError('Not authenticated', { extensions: { code: 'UNAUTHENTICATED' } });
  }
  return context.user;
}

const schema = createSchema({
  typeDefs: /* GraphQL */ `
    type User { id: ID! username: String! }
    type Todo { id: ID! title: String! done: Boolean! }
    type TodoEdge { cursor: String! node: Todo! }
    type PageInfo { hasNextPage: Boolean! endCursor: String }
    type TodoConnection { edges: [TodoEdge!]! pageInfo: PageInfo! }
    type Query {
      me: User!
      todos(first: Int = 20): TodoConnection!
    }
  `,
  resolvers: {
    Query: {
      me: (_, __, context) => requireUser(context),
      todos: async (_, { first }, context) => {
        const user = requireUser(context);
        const docs = await todos
          .find({ owner_id: user._id })
          .sort({ created_at: -1, _id: -1 })
          .limit(first + 1)
          .toArray();
        const page = docs.slice(0, first);
        return {
          edges: page.map((doc) => ({ cursor: cursor(doc), node: doc })),
          pageInfo: {
            hasNextPage: docs.length > first,
            endCursor: page.length ? cursor(page[page.length - 1]) : null,
          },
        };
      },
    },
    User: { id: (user) => user._id.toHexString() },
    Todo: { id: (todo) => todo._id.toHexString() },
  },
});

await client.connect();
const yoga = createYoga({
  schema,
  graphiql: false,
  context: async ({ request }) => {
    const payload = claims(request.headers.get('authorization'));
    const user = payload && ObjectId.isValid(payload.sub)
      ? await users.findOne({ _id: new ObjectId(payload.sub) })
      : null;
    return { user };
  },
});
const port = Number(env.PORT ?? 4000);
createServer(yoga).listen(port, '127.0.0.1', () => {
  console.log(`yoga peer at http://127.0.0.1:${port}${yoga.graphqlEndpoint}`);
});
