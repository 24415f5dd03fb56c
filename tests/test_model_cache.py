"""The one model cache (models/cache.py): each spec loads once, "policy" follows the model being
aligned, the recipe's chat template reaches only the base model."""

import shutil

from alignkit.models.cache import ModelCache

TEMPLATE = "{% for m in messages %}<<{{ m['content'] }}>>{% endfor %}"


def test_one_load_per_spec_policy_follows_the_aligned_model_template_only_for_the_base(tiny_model_dir, tmp_path):
    trained = tmp_path / "trained"  # stands in for the model a train stage wrote
    shutil.copytree(tiny_model_dir, trained)
    logs: list[str] = []
    base = str(tiny_model_dir)
    models = ModelCache(base, batch_size=4, chat_template=TEMPLATE, log=logs.append)
    first = models("policy")
    assert models.get(base) is first and models(base, batch_size=2) is first  # loaded once
    assert logs == [f"loading model {base}"] and first.batch_size == 2
    assert models("policy").batch_size == 4  # each call sets the batch size it asks for (default the cache's)
    assert first.tokenizer.chat_template == TEMPLATE
    models.policy = str(trained)  # the Runner does this after each iteration
    now = models("policy")
    assert now is not first and now is models.get(str(trained))
    assert now.tokenizer.chat_template != TEMPLATE  # a trained model keeps the template saved with it
    models.clear()
    assert not models.backends
