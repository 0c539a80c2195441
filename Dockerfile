FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY graphql_app ./graphql_app
RUN pip install . && useradd --system --uid 10001 app
USER app

ENV APP_ENV=production
EXPOSE 8000
CMD ["graphql-app", "serve", "--host", "0.0.0.0", "--port", "8000"]
