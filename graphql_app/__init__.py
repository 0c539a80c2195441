"""A GraphQL API with JWT-authenticated resolvers: Strawberry on FastAPI, Beanie on MongoDB."""
