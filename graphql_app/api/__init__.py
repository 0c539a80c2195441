"""The GraphQL layer: thin resolvers over the services."""
