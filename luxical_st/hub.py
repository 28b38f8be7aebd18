"""Upload a saved Luxical model folder to the Hugging Face Hub, card and remote code included.

Only Luxical's checks and card live here: the folder's card is rewritten to name the repo
(`luxical_st.card.write_model_card`), then `huggingface_hub` creates the repo (and branch) and
uploads the folder as it is, so `SentenceTransformer(repo_id, trust_remote_code=True)` works without
luxical_st installed. A model in memory can also go up with sentence-transformers' own
`model.push_to_hub(repo_id)`: `build_model` gave it the Luxical card.
"""

from __future__ import annotations

import os
from typing import Any

from huggingface_hub import CommitInfo, HfApi

from luxical_st.card import check_model_dir, write_model_card


def push_to_hub(
    model_dir: str | os.PathLike[str],
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    commit_message: str | None = None,
    token: str | None = None,
    create_pr: bool = False,
    api: HfApi | None = None,
    **card_inputs: Any,
) -> CommitInfo:
    """Upload a saved Luxical model folder to the Hub repo `repo_id` ("org/name"), creating it if needed.

    The card in `model_dir/README.md` is rewritten first so that it names `repo_id`
    (`card_inputs` go to `write_model_card`); the upload carries the model's remote-code .py files, so
    `SentenceTransformer(repo_id, trust_remote_code=True)` works without luxical_st installed.

    Args:
        private: create the repo as private (an existing repo keeps its visibility).
        revision: branch to commit to; created from main if it does not exist.
        create_pr: open a pull request against main instead of committing to it.
        api: a `huggingface_hub.HfApi`-like client; `HfApi(token=token)` by default.

    Returns:
        the `CommitInfo` of the upload (a str: the commit URL; `.pr_url` when `create_pr`).
    """
    folder = check_model_dir(model_dir)
    if not isinstance(repo_id, str) or repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise ValueError(f"repo_id must look like 'organization/name', got {repo_id!r}")
    if create_pr and revision not in (None, "main"):
        raise ValueError(
            f"create_pr opens a pull request against main; it cannot go with revision={revision!r}"
        )
    write_model_card(folder, model_id=repo_id, **card_inputs)  # before touching the Hub: it may fail
    client = api if api is not None else HfApi(token=token)
    client.create_repo(repo_id=repo_id, private=private, exist_ok=True, repo_type="model")
    if revision is not None:
        client.create_branch(repo_id=repo_id, branch=revision, exist_ok=True, repo_type="model")
    return client.upload_folder(
        repo_id=repo_id,
        folder_path=str(folder),
        repo_type="model",
        revision=revision,
        commit_message=commit_message or f"Upload Luxical model {folder.name}",
        create_pr=create_pr,
        ignore_patterns=["*.pyc"],
    )
