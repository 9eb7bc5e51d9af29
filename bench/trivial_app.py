"""The baseline for the web benchmark: the smallest Flask app, served like the tracker."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "Hello, world!"
