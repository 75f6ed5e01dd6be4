using Rrq.Store;

namespace Rrq.Tests.Store;

public record Point(double X, double Y);

public class RrqValueCodecTests
{
    private static object? RoundTrip(object? v) => RrqValueCodec.Deserialize(RrqValueCodec.Serialize(v));

    public static TheoryData<object?> ExactValues => new()
    {
        null, 42, 42L, 3.25, 1.5f, 12.5m, true, 'c', "text", "",
        new DateTime(2024, 7, 15, 8, 30, 0, DateTimeKind.Utc), new DateTimeOffset(2024, 7, 15, 8, 30, 0, TimeSpan.FromHours(2)),
        TimeSpan.FromSeconds(90), Guid.Parse("8706f6c5-f86f-961e-2b29-2e4b86a0594d"),
        new[] { 1.0, 2.0, double.NaN }, new[] { "a", "b" }, new int[,] { { 1, 2 }, { 3, 4 } },
        new List<int> { 1, 2, 3 }, new Dictionary<string, double> { ["a"] = 1, ["b"] = 2 },
        (1, "two", 3.0), Tuple.Create(1, "x"),
    };

    [Theory]
    [MemberData(nameof(ExactValues))]
    public void Values_of_types_both_sides_know_round_trip_exactly(object? value)
    {
        var back = RoundTrip(value);
        Assert.Equal(value?.GetType(), back?.GetType());
        Assert.Equal(value, back);
    }

    [Fact]
    public void A_record_of_a_referenced_assembly_round_trips_as_itself()
    {
        Assert.Equal(new Point(1, 2), RoundTrip(new Point(1, 2)));
    }

    [Fact]
    public void Containers_of_object_keep_each_elements_type()
    {
        var dict = new Dictionary<string, object?> { ["n"] = 1, ["s"] = "x", ["xs"] = new[] { 1.0 }, ["null"] = null };
        var back = Assert.IsType<Dictionary<string, object?>>(RoundTrip(dict));
        Assert.Equal(1, back["n"]);
        Assert.Equal("x", back["s"]);
        Assert.Equal(new[] { 1.0 }, back["xs"]);
        Assert.Null(back["null"]);

        var list = Assert.IsType<List<object?>>(RoundTrip(new List<object?> { 1, "a" }));
        Assert.Equal(new object?[] { 1, "a" }, list);
        Assert.Equal(new object?[] { 2.5, null }, RoundTrip(new object?[] { 2.5, null }));
    }

    [Fact]
    public void An_anonymous_value_comes_back_as_a_readable_snapshot()
    {
        var back = Assert.IsType<RrqValueSnapshot>(RoundTrip(new { A = 1, B = "b", C = new[] { 1.5, 2.5 } }));
        Assert.Contains("AnonymousType", back.TypeName);
        Assert.Equal(1L, back["A"]);
        Assert.Equal("b", back["B"]);
        Assert.Equal(new object?[] { 1.5, 2.5 }, Assert.IsAssignableFrom<IReadOnlyList<object?>>(back["C"]));
        Assert.EndsWith("{ A = 1, B = \"b\", C = [1.5, 2.5] }", back.ToString());
        var e = Assert.Throws<KeyNotFoundException>(() => back["D"]);
        Assert.Contains("it has: A, B, C", e.Message);
    }

    [Fact]
    public void A_lazy_sequence_is_stored_as_the_array_it_yields()
    {
        var back = RoundTrip(new[] { 1, 2, 3 }.Select(i => i * 2));
        Assert.Equal(new[] { 2, 4, 6 }, Assert.IsType<int[]>(back));
    }

    [Fact]
    public void A_value_that_cannot_be_captured_is_refused_naming_its_type()
    {
        var e = Assert.Throws<RrqValueException>(() => RrqValueCodec.Serialize(new Action(() => { })));
        Assert.Contains("System.Action", e.Message);
    }
}
