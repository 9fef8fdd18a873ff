"""The model's layout (wdcli.model.layout): built once from the config, it says where every weight sits and which
columns of the MLP's input each field holds, and the network computes exactly that."""

from __future__ import annotations

import numpy as np
import torch

from wdcli.data.batch import Bag
from wdcli.model.plan import ModelConfig, SparseInput, Table
from wdcli.model.widedeep import RaggedBags, WideDeep

CONFIG = ModelConfig(
    "wide_deep",
    wide=[SparseInput("a", 4, 0), SparseInput("tags", 6, -1)],
    deep=[SparseInput("a", 4, 0), SparseInput("b", 5, 1), SparseInput("tags", 6, -1, "mean"), SparseInput("c", 3, 2)],
    tables=[Table("a", 4, 8, ["a"]), Table("b", 5, 4, ["b"]), Table("tags", 6, 4, ["tags"]), Table("c", 3, 8, ["c"])],
    dense=[1, 0],
    hidden=[5],
    dense_names=["y", "x"],
)


def test_fields_in_the_order_of_the_mlp_input():
    layout = CONFIG.layout
    got = [(f.name, f.kind, f.start, f.width) for f in layout.fields]
    assert got == [  # embeddings by dimension (4, then 8), then bags, then numeric inputs
        ("b", "embedding", 0, 4),
        ("a", "embedding", 4, 8),
        ("c", "embedding", 12, 8),
        ("tags", "bag", 20, 4),
        ("y", "numeric", 24, 1),
        ("x", "numeric", 25, 1),
    ]
    assert layout.width == CONFIG.deep_input_width == 26
    assert [(g.kind, g.dim, [f.name for f in g.fields]) for g in layout.groups()] == [
        ("embedding", 4, ["b"]),
        ("embedding", 8, ["a", "c"]),
        ("bag", 4, ["tags"]),
        ("numeric", 1, ["y", "x"]),
    ]
    bag = [("tags", "bag", k) for k in range(4)]
    assert layout.columns()[20:] == [*bag, ("y", "numeric", 0), ("x", "numeric", 0)]


def test_tables_and_wide_slots_at_their_offsets():
    layout = CONFIG.layout
    assert layout.rows == {4: 11, 8: 7}
    places = {n: (p.dim, p.offset, p.parameter) for n, p in layout.tables.items()}
    assert places == {
        "a": (8, 0, "embed.8.weight"),
        "b": (4, 0, "embed.4.weight"),
        "tags": (4, 5, "embed.4.weight"),
        "c": (8, 4, "embed.8.weight"),
    }
    assert [(s.name, s.offset) for s in layout.wide] == [("a", 0), ("tags", 4)] and layout.wide_size == 10
    slot, id_ = layout.wide_row(6)
    assert (slot.name, id_) == ("tags", 2) and layout.wide_slot("tags") is slot
    assert layout.place_of("c") is layout.tables["c"] and layout.place_of("y") is None


def test_the_deep_input_holds_what_the_layout_says():
    torch.manual_seed(0)
    model = WideDeep(CONFIG)
    sparse = torch.tensor([[1, 2, 0], [3, 4, 2]])
    bag = Bag(torch.tensor([1, 5, 2]), torch.tensor([0, 2, 3]), torch.tensor([1.0, 3.0, 2.0]))
    dense = torch.tensor([[0.5, -1.0], [2.0, 3.0]])
    x = model.deep_input(sparse, RaggedBags({"tags": bag}), dense)
    layout, e4, e8 = model.layout, model.embed["4"].weight, model.embed["8"].weight
    column = {f.name: f for f in layout.fields}
    assert torch.equal(x[:, column["a"].start : column["a"].stop], e8[sparse[:, 0]])
    assert torch.equal(x[:, column["b"].start : column["b"].stop], e4[sparse[:, 1]])
    assert torch.equal(x[:, column["c"].start : column["c"].stop], e8[4 + sparse[:, 2]])
    tags = x[:, column["tags"].start : column["tags"].stop]
    at = layout.tables["tags"].offset
    assert torch.allclose(tags[0], (e4[at + 1] + 3 * e4[at + 5]) / 4)  # mean: the weighted sum over sum w
    assert torch.allclose(tags[1], e4[at + 2])
    assert torch.equal(x[:, 24], dense[:, 1]) and torch.equal(x[:, 25], dense[:, 0])


def test_a_config_without_numeric_names_names_them_by_column():
    old = ModelConfig.from_dict({k: v for k, v in CONFIG.to_dict().items() if k != "dense_names"})
    assert [f.name for f in old.layout.fields if f.kind == "numeric"] == ["dense.1", "dense.0"]
    assert ModelConfig.from_dict(CONFIG.to_dict()) == CONFIG


def test_the_wide_logit_is_the_bias_plus_each_rows_weights_a_bags_weighted():
    """Each wide slot reads its own rows of the one table: a bag's ids at its offset, times their weights."""
    model = WideDeep(ModelConfig("wide", wide=CONFIG.wide))
    with torch.no_grad():
        model.wide.weight.copy_(torch.arange(1.0, 11.0).unsqueeze(1))  # row r holds r + 1
        model.bias.fill_(0.25)
    sparse = torch.tensor([[1, 2, 0], [3, 4, 2]])
    bag = Bag(torch.tensor([1, 5, 2]), torch.tensor([0, 2, 3]), torch.tensor([1.0, 3.0, 2.0]))
    logits = model(sparse, {"tags": bag}, torch.zeros(2, 0))
    # a: rows 0-3, tags: rows 4-9. Row 0: a=1, tags 1 (x1) and 5 (x3); row 1: a=3, tags 2 (x2)
    assert logits.tolist() == [0.25 + 2 + 1 * 6 + 3 * 10, 0.25 + 4 + 2 * 7]


def test_probabilities_score_with_the_model_in_eval_mode_whatever_mode_it_was_in():
    """Dropout and batch norm at scoring would make a row's score depend on chance and on its batch."""
    from dataclasses import replace

    from wdcli.data.batch import Batch
    from wdcli.model.widedeep import probabilities

    torch.manual_seed(0)
    model = WideDeep(replace(CONFIG, dropout=0.5, batch_norm=True, embedding_dropout=0.5))
    sparse = torch.tensor([[1, 2, 0], [3, 4, 2], [0, 1, 1]])
    bag = Bag(torch.tensor([1, 5, 2]), torch.tensor([0, 2, 3, 3]), torch.tensor([1.0, 3.0, 2.0]))
    dense = torch.tensor([[0.5, -1.0], [2.0, 3.0], [0.0, 1.0]])
    batch = Batch(sparse, {"tags": bag}, dense)
    with torch.no_grad():
        model.mlp[1].running_mean.fill_(0.3)  # (batch norm's statistics, not the batch's)
        expected = torch.sigmoid(model.eval()(sparse, {"tags": bag}, dense)).double().numpy()
    model.train()
    assert np.allclose(probabilities(model, [batch]), expected, atol=1e-6)
    assert not model.training


def test_a_spec_compiles_to_the_tables_combiners_and_dims_it_names(tmp_path):
    """build_config: a shared table holds the ids of its largest member (here `item`, whose min_count keeps more
    values than `seen`'s); a list's combiner and a table's embedding_dims reach the model; the plan counts the
    model's own parameters, batch norm's scales and shifts among them."""
    import polars as pl

    from wdcli.features import fit_pipeline
    from wdcli.model.plan import build_config
    from wdcli.spec import load_spec

    n = 60
    frame = pl.DataFrame(
        {
            "item": [f"i{k % 7}" for k in range(n)],
            "seen": ["|".join(f"i{(k + j) % 7}" for j in range(k % 3 + 1)) for k in range(n)],
            "city": [f"c{k % 4}" for k in range(n)],
            "x": [float(k) for k in range(n)],
            "y": [k % 2 for k in range(n)],
        }
    )
    frame.write_parquet(tmp_path / "t.parquet")
    (tmp_path / "s.yaml").write_text(
        "data: {train: t.parquet}\nlabel: {column: y}\nmodel: deep\ncolumns:\n"
        "  item: {kind: categorical, min_count: 1}\n"
        "  seen: {kind: multivalent, separator: '|', combiner: sqrtn, min_count: 27}\n"
        "  city: {kind: categorical, min_count: 1}\n  x: {kind: numeric}\n"
        "deep:\n  embed: [seen, item, city]\n  embedding_dim: 4\n  embedding_dims: {items: 6, city: 3}\n"
        "  shared: {items: [seen, item]}\n  hidden: [5]\n  batch_norm: true\n  interaction: none\n"
    )
    fitted = fit_pipeline(load_spec(tmp_path / "s.yaml"), frame)
    assert (fitted.cardinality("item"), fitted.cardinality("seen")) == (9, 4)  # (i2 and i3 alone seen 27 times)
    cfg = build_config(fitted)
    assert [(t.name, t.cardinality, t.dim, t.features) for t in cfg.tables] == [
        ("items", 9, 6, ["seen", "item"]),
        ("city", 6, 3, ["city"]),
    ]
    assert {f.name: f.combiner for f in cfg.deep} == {"seen": "sqrtn", "item": "sum", "city": "sum"}
    model = WideDeep(cfg)
    assert sum(p.numel() for p in model.parameters()) == cfg.param_counts()["total"]
    numbers = ModelConfig("deep", dense=[0], hidden=[5], dense_names=["x"])  # a deep part of numbers alone
    assert numbers.has_deep and numbers.param_counts()["mlp"] == 1 * 5 + 5 + 5
    assert sum(p.numel() for p in WideDeep(numbers).parameters()) == numbers.param_counts()["total"] == 16


def test_two_lists_of_one_dimension_pool_apart():
    """Each bag is a group of its own (one pooling each): two lists of one dimension sit side by side in the
    MLP's input, each pooled from its own table's rows."""
    cfg = ModelConfig(
        "deep",
        deep=[SparseInput("tags", 6, -1), SparseInput("apps", 3, -1, "mean")],
        tables=[Table("tags", 6, 4, ["tags"]), Table("apps", 3, 4, ["apps"])],
        hidden=[2],
    )
    assert [(g.kind, [f.name for f in g.fields]) for g in cfg.layout.groups()] == [("bag", ["tags"]), ("bag", ["apps"])]
    torch.manual_seed(0)
    model = WideDeep(cfg)
    tags = Bag(torch.tensor([1, 5]), torch.tensor([0, 2]), torch.tensor([1.0, 1.0]))
    apps = Bag(torch.tensor([1, 2]), torch.tensor([0, 2]), torch.tensor([1.0, 3.0]))
    x = model.deep_input(
        torch.zeros(1, 0, dtype=torch.long), RaggedBags({"tags": tags, "apps": apps}), torch.zeros(1, 0)
    )
    e4 = model.embed["4"].weight
    assert x.shape == (1, 8)
    assert torch.allclose(x[0, :4], e4[1] + e4[5]) and torch.allclose(x[0, 4:], (e4[6 + 1] + 3 * e4[6 + 2]) / 4)
