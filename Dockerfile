# The gateway (and the simulators: same image, another command) installed from a
# wheel of this tree, so the image runs exactly what `pip install .` ships: package
# data (GraphiQL examples, store migrations) and GraphiQL's own JS/CSS, which come
# with a Python dependency, so the page works without internet.
FROM python:3.11-slim AS build
WORKDIR /src
# The whole tree (less .dockerignore): pyproject.toml decides what the wheel holds.
COPY . .
RUN pip wheel --no-cache-dir --no-deps -w /wheels .

FROM python:3.11-slim
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
# No source tree here: the working directory only holds the embedded store
# (.revgraph/) when no DATABASE_URL is given.
WORKDIR /app
EXPOSE 8000 8001 8002 8003 8004
CMD ["revgraph", "serve", "--host", "0.0.0.0"]
