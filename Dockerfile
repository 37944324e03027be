FROM python:3.11-slim
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir .
EXPOSE 8000 8001 8002 8003 8004
CMD ["revgraph", "serve", "--host", "0.0.0.0"]
