"""The server's API for scripts, driven with gradio_client as a script would: the job endpoints only, named
parameters with the library's defaults, a picture with its recipe back, a bad input raised on the client in one
line and logged once."""

from __future__ import annotations

import inspect
import socket

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("gradio")


@pytest.fixture(scope="module")
def server():
    from inceptionism.web import serve

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = serve("127.0.0.1", port, block=False)
    yield f"http://127.0.0.1:{port}"
    app.close()


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server, verbose=False, httpx_kwargs={"timeout": 120})


def test_the_api_lists_the_jobs_alone_with_the_librarys_names_and_defaults(client):
    import inceptionism as inc

    api = client.view_api(return_format="dict", print_info=False)
    assert sorted(api["named_endpoints"]) == ["/dream", "/style", "/stylize", "/visualize"]
    assert api["unnamed_endpoints"] == {}
    for name, function in (("/dream", inc.dream), ("/visualize", inc.visualize), ("/stylize", inc.stylize),
                           ("/style", inc.style)):
        library = inspect.signature(function).parameters
        for parameter in api["named_endpoints"][name]["parameters"]:
            key = parameter["parameter_name"]
            assert key in library, (name, key)
            default = library[key].default
            if parameter.get("parameter_has_default") and default not in (None, inspect.Parameter.empty):
                assert parameter["parameter_default"] == default, (name, key)


def test_a_dream_comes_back_with_its_recipe_and_a_bad_file_raises_one_line(client, tmp_path, capfd):
    from gradio_client import handle_file

    from inceptionism.io.images import read_metadata

    photo = tmp_path / "cat.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(photo)
    out = client.predict(handle_file(str(photo)), layer="blocks.4", steps=2, octaves=2, api_name="/dream")
    recipe = read_metadata(out)
    assert recipe["command"] == "dream" and recipe["layers"] == ["blocks.4"] and recipe["config"]["steps"] == 2
    notes = tmp_path / "notes.png"
    notes.write_text("a text file, not a picture")
    capfd.readouterr()
    with pytest.raises(Exception) as caught:
        client.predict(handle_file(str(notes)), api_name="/dream")
    assert "notes.png: cannot read image" in str(caught.value) and "\n" not in str(caught.value).strip()
    log = capfd.readouterr().err
    assert log.count("refused:") == 1 and "Traceback" not in log


def test_visualize_and_stylize_from_a_script(client, tmp_path):
    from gradio_client import handle_file

    from inceptionism.io.images import read_metadata

    flamingo = client.predict("flamingo", size=64, steps=4, api_name="/visualize")
    assert read_metadata(flamingo)["class"] == 130
    with pytest.raises(Exception, match=r"no class named 'flamingoo' \(closest: flamingo"):
        client.predict("flamingoo", size=64, steps=4, api_name="/visualize")
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(photo)
    painted = client.predict(handle_file(str(photo)), style="1", strength=0.5, api_name="/stylize")
    assert read_metadata(painted)["mix"] == [0.0, 1.0, 0.0] and Image.open(painted).size == (64, 48)
