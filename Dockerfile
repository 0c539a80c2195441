# The API image. Dependencies come from requirements.lock only (every package pinned, hashes
# checked, wheels only: nothing is compiled), the app is installed without dependencies, and
# the runtime stage gets the finished virtual environment without pip or any build tool.
# The base is pinned by its exact tag (no registry is reachable where this was written to
# read its digest; README "Production" shows how to add @sha256:… for your registry).
ARG PYTHON_IMAGE=python:3.11.15-slim-trixie

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv --without-pip /opt/venv
COPY requirements.lock /src/
RUN pip --python /opt/venv/bin/python install --require-hashes --only-binary=:all: \
    --no-deps -r /src/requirements.lock
COPY pyproject.toml README.md /src/
COPY graphql_app /src/graphql_app
RUN pip --python /opt/venv/bin/python install --no-deps /src

FROM ${PYTHON_IMAGE}
# pip, setuptools and wheel of the base image are not needed to run the app.
RUN python -m pip uninstall --yes --quiet pip setuptools wheel \
    && install -d -o 10001 -g 10001 /var/lib/graphql-app
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    APP_ENV=production DATA_DIR=/var/lib/graphql-app
# A number, not a name: Kubernetes' runAsNonRoot and similar checks can verify it.
USER 10001:10001
WORKDIR /var/lib/graphql-app
EXPOSE 8000
CMD ["graphql-app", "serve", "--host", "0.0.0.0", "--port", "8000"]
