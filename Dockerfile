FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir -c requirements.lock . \
    && useradd --create-home portal \
    && mkdir -p /app/media /app/staticfiles \
    && chown -R portal /app
USER portal
EXPOSE 8000
CMD ["gunicorn", "gigafactory.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2"]
