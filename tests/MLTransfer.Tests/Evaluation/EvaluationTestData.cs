namespace MLTransfer.Tests.Evaluation;

/// <summary>The hand-worked 3-class example shared by several test fixtures.</summary>
internal static class EvaluationTestData
{
    public static readonly string[] Names = ["cat", "dog", "bird"];

    //                                       true  cat   dog   bird     predicted (arg-max)     rank of true class
    public static readonly int[] Labels = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2];
    public static readonly float[][] Probabilities =
    [
        [0.70f, 0.20f, 0.10f], // s0 cat  -> cat                      1
        [0.60f, 0.30f, 0.10f], // s1 cat  -> cat                      1
        [0.30f, 0.20f, 0.50f], // s2 cat  -> bird                     2
        [0.20f, 0.20f, 0.60f], // s3 cat  -> bird                     2 (ties dog at 0.2, lower index wins)
        [0.10f, 0.80f, 0.10f], // s4 dog  -> dog                      1
        [0.25f, 0.50f, 0.25f], // s5 dog  -> dog                      1
        [0.50f, 0.40f, 0.10f], // s6 dog  -> cat                      2
        [0.10f, 0.10f, 0.80f], // s7 bird -> bird                     1
        [0.40f, 0.40f, 0.20f], // s8 bird -> cat (cat/dog tie -> cat) 3
        [0.10f, 0.30f, 0.60f], // s9 bird -> bird                     1
    ];
}
