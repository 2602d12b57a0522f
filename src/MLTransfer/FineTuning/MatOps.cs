using System.Numerics.Tensors;

namespace MLTransfer.FineTuning;

/// <summary>
/// The three matrix products of a dense layer over row-major buffers, vectorised with TensorPrimitives
/// along the long P axis (batch × positions), and parallel over independent output rows.
/// </summary>
internal static class MatOps
{
    /// <summary>Rows below this much work (multiply-adds) are not worth a parallel loop.</summary>
    private const long ParallelThreshold = 1L << 16;

    /// <summary><c>Y[m,:] += alpha · Σ_k W[m,k] · X[k,:]</c> for W <c>[M,K]</c>, X <c>[K,P]</c>, Y <c>[M,P]</c>.</summary>
    public static void Forward(ReadOnlySpan<float> w, int m, int k, float[] x, int xOffset, float[] y, int yOffset, int p, float alpha = 1f)
    {
        var wArr = w.ToArray();
        For(m, (long)k * p, i =>
        {
            var row = y.AsSpan(yOffset + i * p, p);
            for (var j = 0; j < k; j++)
            {
                var wij = alpha * wArr[i * k + j];
                if (wij != 0f)
                    TensorPrimitives.MultiplyAdd(x.AsSpan(xOffset + j * p, p), wij, row, row);
            }
        });
    }

    /// <summary><c>dW[m,k] += alpha · dY[m,:] · X[k,:]</c>.</summary>
    public static void GradWeights(float[] dy, int dyOffset, float[] x, int xOffset, float[] dw, int dwOffset, int m, int k, int p, float alpha = 1f)
    {
        For(m, (long)k * p, i =>
        {
            var dRow = dy.AsSpan(dyOffset + i * p, p);
            for (var j = 0; j < k; j++)
                dw[dwOffset + i * k + j] += alpha * TensorPrimitives.Dot(dRow, x.AsSpan(xOffset + j * p, p));
        });
    }

    /// <summary><c>dX[k,:] += alpha · Σ_m W[m,k] · dY[m,:]</c>.</summary>
    public static void GradInput(ReadOnlySpan<float> w, int m, int k, float[] dy, int dyOffset, float[] dx, int dxOffset, int p, float alpha = 1f)
    {
        var wArr = w.ToArray();
        For(k, (long)m * p, j =>
        {
            var row = dx.AsSpan(dxOffset + j * p, p);
            for (var i = 0; i < m; i++)
            {
                var wij = alpha * wArr[i * k + j];
                if (wij != 0f)
                    TensorPrimitives.MultiplyAdd(dy.AsSpan(dyOffset + i * p, p), wij, row, row);
            }
        });
    }

    /// <summary>Runs <paramref name="body"/> for 0..count-1, in parallel when the total work is large.</summary>
    public static void For(int count, long workPerItem, Action<int> body)
    {
        if (count > 1 && count * workPerItem >= ParallelThreshold)
            Parallel.For(0, count, body);
        else
            for (var i = 0; i < count; i++)
                body(i);
    }
}
