"""The training methods' table drives the recipe schema and the build-kind check."""

import pytest

from alignkit.config import TrainConfig
from alignkit.errors import AlignkitError
from alignkit.launch import check_trainable
from alignkit.methods import DATASET_KIND, METHODS, ONLINE


def test_the_recipe_schema_offers_exactly_the_tables_methods():
    assert TrainConfig.model_json_schema()["properties"]["method"]["enum"] == list(METHODS)
    assert set(ONLINE) == {"grpo", "rloo"} and "none" not in DATASET_KIND


def test_a_dataset_of_the_wrong_kind_names_the_kind_each_method_needs():
    with pytest.raises(AlignkitError) as err:
        check_trainable("dpo", "sft", [{"prompt": "x"}], "embedded", online=False)
    fix = err.value.fix
    assert "set build.kind: preference for dpo" in fix
    assert "dpo, orpo, simpo, reward: preference" in fix and "kto: kto" in fix and "grpo" not in fix
    check_trainable("kto", "kto", [{"prompt": "x"}], "embedded", online=False)  # the right kind passes


@pytest.mark.parametrize("method", list(METHODS))
def test_qlora_is_accepted_exactly_for_the_tables_qlora_methods(method):
    from pydantic import ValidationError

    from alignkit.methods import QLORA

    if method in QLORA:
        assert TrainConfig(method=method, qlora=True).qlora
    else:
        with pytest.raises(ValidationError, match="qlora works with sft, dpo, kto, orpo, simpo"):
            TrainConfig(method=method, qlora=True)


def test_ld_alpha_reaches_trls_dpo_config_and_is_refused_elsewhere(tmp_path):
    from pydantic import ValidationError

    from alignkit.train import _common_args, dpo_config

    cfg = TrainConfig(method="dpo", ld_alpha=0.5, loss_type=["sigmoid", "sft"])
    made = dpo_config(cfg, _common_args(cfg, tmp_path, 8))
    assert made.ld_alpha == 0.5 and made.loss_type == ["sigmoid", "sft"]
    assert dpo_config(TrainConfig(method="dpo"), _common_args(cfg, tmp_path, 8)).ld_alpha is None  # plain DPO
    with pytest.raises(ValidationError, match="works with method: dpo only"):
        TrainConfig(method="sft", ld_alpha=0.5)
    with pytest.raises(ValidationError, match="less than or equal to 1"):
        TrainConfig(method="dpo", ld_alpha=1.5)
